// `PUT /files/{path}` on a connection whose request header has just been read: the
// caller is admitted on the header alone (upload_admission.hpp), then the body is
// streamed in chunks into the upload hook's sink (a temporary file in the tenant's
// sandbox, renamed into place once complete). Nothing holds the whole body.
//
// Deadlines: the header had --header-timeout; the body only has an inactivity bound,
// --upload-idle-timeout without a byte (then the connection is closed and nothing is
// stored), so a slow upload that keeps sending is never cut.
#pragma once

#include <spdlog/spdlog.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <memory>

#include "core/json_text.hpp"
#include "gateway/http_routes.hpp"
#include "gateway/http_write.hpp"
#include "gateway/upload_admission.hpp"

namespace streamer {

// Bytes of body taken from the socket at once (held only while the upload runs).
inline constexpr std::size_t kUploadChunk = 64 * 1024;

// Serves the upload whose header `header` holds; `buffer` holds what was read past the
// header. Refusals (401/403/404/413/429/400) are answered and the connection closed
// without reading the body. Returns true when the connection may serve another request.
template <class Stream>
boost::asio::awaitable<bool> serve_upload(
    Stream& stream, boost::beast::flat_buffer& buffer,
    boost::beast::http::request_parser<boost::beast::http::string_body>& header,
    const Target& target, GatewayContext& ctx, const std::string& ip) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  using http_write::kTuple;
  const unsigned version = header.get().version();

  auto who = authenticate_upload(ctx, header.get(), target.query);
  if (auto* refusal = std::get_if<HttpAnswer>(&who)) {
    HttpAnswer answer = std::move(*refusal);
    co_await http_write::answer_and_close(stream, version, std::move(answer));
    co_return false;
  }
  if (const auto declared = header.content_length();
      declared && *declared > ctx.options.max_upload_bytes) {
    co_await http_write::refuse_body(stream, version);
    co_return false;
  }
  const std::string_view path =
      std::string_view(target.path).substr(std::string_view("/files/").size());
  auto opened = open_upload(ctx, std::get<Identity>(who), path, ip);
  if (auto* refusal = std::get_if<HttpAnswer>(&opened)) {
    HttpAnswer answer = std::move(*refusal);
    co_await http_write::answer_and_close(stream, version, std::move(answer));
    co_return false;
  }
  AdmittedUpload upload = std::move(std::get<AdmittedUpload>(opened));
  auto& tcp = beast::get_lowest_layer(stream);

  if (!header.is_done()) {
    if (beast::iequals(header.get()[http::field::expect], "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, version};
      tcp.expires_after(ctx.options.header_timeout);
      auto [ec, n] = co_await http::async_write(stream, go_on, kTuple);
      if (ec) co_return false;
    }
    http::request_parser<http::buffer_body> body{std::move(header)};
    body.body_limit(ctx.options.max_upload_bytes);
    auto chunk = std::make_unique_for_overwrite<char[]>(kUploadChunk);
    while (!body.is_done()) {
      body.get().body().data = chunk.get();
      body.get().body().size = kUploadChunk;
      tcp.expires_after(ctx.options.upload_idle_timeout);  // reset by every read: inactivity only
      auto [ec, n] = co_await http::async_read_some(stream, buffer, body, kTuple);
      if (ec == http::error::need_buffer) ec = {};
      const std::size_t got = kUploadChunk - body.get().body().size;
      if (got > 0 && !upload.sink->write(chunk.get(), got)) {
        HttpAnswer answer =
            http_write::error_answer(500, "INTERNAL_ERROR", "could not store the file");
        co_await http_write::answer_and_close(stream, version, std::move(answer));
        co_return false;
      }
      if (ec == http::error::body_limit) {
        co_await http_write::refuse_body(stream, version);
        co_return false;
      }
      if (ec == beast::error::timeout) {  // the stream has closed the socket: no answer
        spdlog::info(R"({{"event":"upload_stalled","ip":"{}","idle_seconds":{}}})", ip,
                     ctx.options.upload_idle_timeout.count());
        co_return false;
      }
      if (ec) co_return false;  // the client went away, or a malformed chunked body
    }
    HttpAnswer answer = upload.sink->commit();
    upload.sink.reset();  // the slot is free before the answer is written
    upload.slot.reset();
    tcp.expires_after(ctx.options.header_timeout);
    co_return co_await http_write::write_answer(stream, body.get(), std::move(answer));
  }
  HttpAnswer answer = upload.sink->commit();  // an empty body
  upload.sink.reset();
  upload.slot.reset();
  tcp.expires_after(ctx.options.header_timeout);
  co_return co_await http_write::write_answer(stream, header.get(), std::move(answer));
}

}  // namespace streamer
