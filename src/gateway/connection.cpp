#include "gateway/connection.hpp"

#include <spdlog/spdlog.h>

#include "core/json_text.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "core/protocol.hpp"
#include "gateway/http_routes.hpp"
#include "gateway/ws_upgrade.hpp"

namespace streamer {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

// Decides whether an upgrade may proceed: per-IP connection rate, then the token.
std::optional<Refusal> admit(GatewayContext& ctx, const HttpRequest& req, std::string_view query,
                             const std::string& ip, std::optional<VerifiedToken>& token) {
  auto refuse = [](unsigned short code, ErrorCode error, std::string message, boost::json::object details) {
    return Refusal{code, protocol::error_message(std::nullopt, error, message, std::move(details))};
  };
  if (auto wait_ms = ctx.connection_limiter.admit(ip, std::chrono::steady_clock::now())) {
    ctx.metrics.record_rate_limited("connections_per_minute");
    return refuse(4429, ErrorCode::kRateLimited, "Too many connections from this address",
                  {{"reason", "connection_rate"},
                   {"limit", "connections_per_minute"},
                   {"limit_value", ctx.options.max_connections_per_minute},
                   {"retry_after_ms", wait_ms}});
  }
  auto verified = authenticate(ctx.verifier, req, query, std::chrono::system_clock::now());
  if (auto* err = std::get_if<JwtError>(&verified)) {
    return refuse(4401, ErrorCode::kUnauthorized, err->message, {{"reason", err->reason}});
  }
  token = std::move(std::get<VerifiedToken>(verified));
  const auto& allowed = ctx.options.allowed_tenants;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), token->identity.tenant_id) == allowed.end()) {
    token.reset();
    return refuse(4403, ErrorCode::kUnauthorized, "Tenant is not allowed here", {{"reason", "forbidden_tenant"}});
  }
  return std::nullopt;
}

template <class Stream>
asio::awaitable<bool> write_answer(Stream& stream, const HttpRequest& req, HttpAnswer answer) {
  const bool head = req.method() == http::verb::head;
  if (answer.file) {
    http::response<http::file_body> res{http::status(answer.status), req.version()};
    beast::error_code ec;
    res.body().open(answer.file->c_str(), beast::file_mode::scan, ec);
    if (ec) {
      answer = HttpAnswer{404, "application/json", R"({"error":{"code":"NOT_FOUND","message":"gone"}})"};
    } else {
      res.set(http::field::content_type, answer.content_type);
      if (!answer.content_disposition.empty()) res.set(http::field::content_disposition, answer.content_disposition);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      if (head) {
        http::response_serializer<http::file_body> sr{res};
        auto [wec, n] = co_await http::async_write_header(stream, sr, kTuple);
        co_return !wec && req.keep_alive();
      }
      auto [wec, n] = co_await http::async_write(stream, res, kTuple);
      co_return !wec && req.keep_alive();
    }
  }
  http::response<http::string_body> res{http::status(answer.status), req.version()};
  res.set(http::field::content_type, answer.content_type);
  res.set(http::field::server, "streamer/" STREAMER_VERSION);
  if (!answer.content_disposition.empty()) res.set(http::field::content_disposition, answer.content_disposition);
  res.keep_alive(req.keep_alive());
  res.body() = head ? std::string() : std::move(answer.body);
  res.prepare_payload();
  auto [wec, n] = co_await http::async_write(stream, res, kTuple);
  co_return !wec && req.keep_alive();
}

// Answers 413 to a body over --max-upload-bytes, then stops sending and reads (and
// discards) what the client is still sending for a moment, so that closing the socket
// does not reset the connection before the client has read the answer.
template <class Stream>
asio::awaitable<void> refuse_body(Stream& stream, HttpRequest req) {
  req.keep_alive(false);
  // A named local, not a braced temporary: GCC 12 destroys temporaries in a co_await
  // argument twice.
  HttpAnswer answer{413, "application/json",
                    R"({"error":{"code":"VALIDATION_ERROR","message":"body exceeds the upload limit"}})"};
  co_await write_answer(stream, req, std::move(answer));
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

template <class Stream>
asio::awaitable<void> serve_http(Stream stream, GatewayContext& ctx, std::string ip) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    // No body limit while reading the header (Beast would fail an oversized
    // Content-Length there, before we could answer 413); it is set just below.
    parser.body_limit(boost::none);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (ec) co_return;
    parser.body_limit(ctx.options.max_upload_bytes);

    if (beast::websocket::is_upgrade(parser.get())) {
      beast::get_lowest_layer(stream).expires_never();
      HttpRequest req = parser.release();
      auto target = split_target(req.target());
      if (!target || target->path != "/" + ctx.options.stage || ctx.draining.load()) {
        HttpAnswer a{static_cast<unsigned>(ctx.draining.load() ? 503 : 404), "application/json",
                     R"({"error":{"code":"NOT_FOUND","message":"no WebSocket endpoint here"}})"};
        co_await write_answer(stream, req, std::move(a));
        co_return;
      }
      Upgrade up{std::move(req), std::move(ip), std::nullopt, std::nullopt, {}};
      up.refusal = admit(ctx, up.req, target->query, up.remote_ip, up.token);
      // Bytes the client sent right after its request are the start of its first frame.
      up.early.assign(static_cast<const char*>(buffer.data().data()), buffer.size());
      co_await upgrade_websocket(std::move(stream), std::move(up), ctx);
      co_return;
    }

    if (!parser.is_done()) {
      const auto declared = parser.content_length();
      beast::error_code bec;
      if (!declared || *declared <= ctx.options.max_upload_bytes) {
        std::size_t bn;
        std::tie(bec, bn) = co_await http::async_read(stream, buffer, parser, kTuple);
      }
      if ((declared && *declared > ctx.options.max_upload_bytes) || bec == http::error::body_limit) {
        co_await refuse_body(stream, parser.release());
        co_return;
      }
      if (bec) co_return;
    }
    HttpRequest req = parser.release();
    HttpAnswer answer;
    try {
      answer = route_http(ctx, req);
    } catch (const std::exception& e) {
      spdlog::error(R"({{"event":"http_error","error":{}}})", json_quoted(e.what()));
      answer = HttpAnswer{500, "application/json", R"({"error":{"code":"INTERNAL_ERROR","message":"internal error"}})"};
    }
    if (!co_await write_answer(stream, req, std::move(answer))) co_return;
  }
}

}  // namespace

asio::awaitable<void> serve_connection(asio::ip::tcp::socket socket, GatewayContext& ctx, asio::ssl::context* tls) {
  beast::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  std::string ip = ec ? std::string("unknown") : endpoint.address().to_string();
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  if (!tls) {
    co_await serve_http(beast::tcp_stream(std::move(socket)), ctx, std::move(ip));
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(15));
  auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
  if (hec) co_return;
  co_await serve_http(std::move(stream), ctx, std::move(ip));
}

}  // namespace streamer
