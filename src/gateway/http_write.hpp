// Writing HTTP answers on a connection's stream (beast::tcp_stream, or an ssl_stream
// over one): a normal answer, an answer after which the connection is closed without
// reading the rest of the request, and the 413 answer to an over-size body.
#pragma once

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>

#include "gateway/gateway_context.hpp"

namespace streamer::http_write {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
inline constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// A JSON error answer {"error":{"code","message"}}.
inline HttpAnswer error_answer(unsigned status, std::string_view code, std::string_view message,
                               boost::json::object details = {}) {
  boost::json::object error{{"code", code}, {"message", message}};
  if (!details.empty()) error["details"] = std::move(details);
  HttpAnswer answer;
  answer.status = status;
  answer.body = boost::json::serialize(boost::json::object{{"error", error}});
  return answer;
}

// Writes `answer` (a string body, or a file streamed from disk) for a request of HTTP
// `version`. Returns true when the connection may serve another request: written, and
// both `keep_alive` and the answer allow it.
template <class Stream>
asio::awaitable<bool> write_answer(Stream& stream, unsigned version, bool keep_alive, bool head,
                                   HttpAnswer answer) {
  if (answer.file) {
    http::response<http::file_body> res{http::status(answer.status), version};
    beast::error_code ec;
    res.body().open(answer.file->c_str(), beast::file_mode::scan, ec);
    if (ec) {
      answer = error_answer(404, "NOT_FOUND", "gone");
    } else {
      res.set(http::field::content_type, answer.content_type);
      if (!answer.content_disposition.empty())
        res.set(http::field::content_disposition, answer.content_disposition);
      res.keep_alive(keep_alive);
      res.prepare_payload();
      if (head) {
        http::response_serializer<http::file_body> sr{res};
        auto [wec, n] = co_await http::async_write_header(stream, sr, kTuple);
        co_return !wec && keep_alive;
      }
      auto [wec, n] = co_await http::async_write(stream, res, kTuple);
      co_return !wec && keep_alive;
    }
  }
  http::response<http::string_body> res{http::status(answer.status), version};
  res.set(http::field::content_type, answer.content_type);
  res.set(http::field::server, "streamer/" STREAMER_VERSION);
  if (!answer.content_disposition.empty())
    res.set(http::field::content_disposition, answer.content_disposition);
  for (const auto& [field, value] : answer.headers) res.set(field, value);
  res.keep_alive(keep_alive);
  res.body() = head ? std::string() : std::move(answer.body);
  res.prepare_payload();
  auto [wec, n] = co_await http::async_write(stream, res, kTuple);
  co_return !wec && keep_alive;
}

template <class Stream, class Body>
asio::awaitable<bool> write_answer(Stream& stream, const http::request<Body>& req,
                                   HttpAnswer answer) {
  co_return co_await write_answer(stream, req.version(), req.keep_alive(),
                                  req.method() == http::verb::head, std::move(answer));
}

// Answers with `Connection: close` and ends the connection without reading what the
// client may still be sending (a body nobody asked for, the rest of a header). The
// answer goes out before the FIN; a client that reads before it finishes sending
// sees it.
template <class Stream>
asio::awaitable<void> answer_and_close(Stream& stream, unsigned version, HttpAnswer answer) {
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(std::chrono::seconds(10));  // a client that reads nothing cannot hold us
  co_await write_answer(stream, version, false, false, std::move(answer));
  beast::error_code ec;
  tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  tcp.close();
}

// Answers 413 to a body over --max-upload-bytes, then stops sending and reads (and
// discards) what the client is still sending for a moment, so that closing the socket
// does not reset the connection before the client has read the answer.
template <class Stream>
asio::awaitable<void> refuse_body(Stream& stream, unsigned version) {
  // A named local, not a braced temporary: GCC 12 destroys temporaries in a co_await
  // argument twice.
  HttpAnswer answer = error_answer(413, "VALIDATION_ERROR", "body exceeds the upload limit");
  co_await write_answer(stream, version, false, false, std::move(answer));
  auto& tcp = beast::get_lowest_layer(stream);
  beast::error_code ec;
  tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  std::array<char, 16 * 1024> sink;
  std::size_t drained = 0;
  tcp.expires_after(std::chrono::seconds(2));
  while (drained < (64u << 20)) {
    auto [rec, n] = co_await tcp.async_read_some(asio::buffer(sink), kTuple);
    if (rec) break;
    drained += n;
  }
}

}  // namespace streamer::http_write
