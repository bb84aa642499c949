#include "gateway/connection.hpp"

#include <spdlog/spdlog.h>

#include "core/json_text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "core/log_event.hpp"
#include "core/protocol.hpp"
#include "gateway/http_admin.hpp"
#include "gateway/http_routes.hpp"
#include "gateway/http_upload.hpp"
#include "gateway/http_write.hpp"
#include "gateway/ws_upgrade.hpp"

namespace streamer {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

// Largest request header (request line and fields) read; larger ones get 431.
constexpr std::uint32_t kHeaderLimit = 16 * 1024;
// Largest body accepted on a route other than PUT /files (they ignore bodies).
constexpr std::uint64_t kSmallBodyLimit = 64 * 1024;

// Decides whether an upgrade may proceed: per-IP connection rate, then the token.
std::optional<Refusal> admit(GatewayContext& ctx, const HttpRequest& req, std::string_view query,
                             const std::string& ip, std::optional<VerifiedToken>& token) {
  auto refuse = [](unsigned short code, ErrorCode error, std::string message,
                   boost::json::object details) {
    return Refusal{code, protocol::error_message(std::nullopt, error, message, std::move(details))};
  };
  const std::string client = client_address(ip, req["X-Forwarded-For"], ctx.trusted_proxies);
  ConnectionAdmission& limiter =
      ctx.shared_connection_limiter ? *ctx.shared_connection_limiter : ctx.connection_limiter;
  if (auto wait_ms = limiter.admit(client, std::chrono::steady_clock::now())) {
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
  if (!allowed.empty() &&
      std::find(allowed.begin(), allowed.end(), token->identity.tenant_id) == allowed.end()) {
    token.reset();
    return refuse(4403, ErrorCode::kUnauthorized, "Tenant is not allowed here",
                  {{"reason", "forbidden_tenant"}});
  }
  return std::nullopt;
}

// A remote worker's token must carry permission `worker` and a non-empty claim
// `actions`; otherwise the connection is refused with 4403.
std::optional<Refusal> admit_worker(std::optional<VerifiedToken>& token) {
  const Identity& who = token->identity;
  if (who.has_permission("worker") && !who.actions.empty()) return std::nullopt;
  const bool permitted = who.has_permission("worker");
  token.reset();
  return Refusal{4403,
                 protocol::error_message(
                     std::nullopt, ErrorCode::kUnauthorized,
                     permitted ? "A worker token must list the actions it serves (claim actions)"
                               : "Permission 'worker' is required on the workers endpoint",
                     {{"reason", permitted ? "missing_actions" : "missing_permission"},
                      {"required_permission", "worker"}})};
}

// Why a request's header could not be read, as an answer: 431 for a header over the
// size limit, 400 for a malformed one (bad Content-Length or Transfer-Encoding, bad
// request line or field). Nothing for a timeout or a client that went away.
std::optional<HttpAnswer> header_refusal(const beast::error_code& ec) {
  if (ec == http::error::header_limit)
    return http_write::error_answer(431, "VALIDATION_ERROR", "request header fields too large");
  if (ec == http::error::bad_content_length || ec == http::error::bad_transfer_encoding)
    return http_write::error_answer(400, "VALIDATION_ERROR",
                                    "malformed Content-Length or Transfer-Encoding");
  if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message)
    return http_write::error_answer(400, "VALIDATION_ERROR", "malformed request");
  return std::nullopt;
}

// `buffer`: bytes already read from the connection (after a PROXY header), if any.
template <class Stream>
asio::awaitable<void> serve_http(Stream stream, GatewayContext& ctx, std::string ip,
                                 beast::flat_buffer buffer) {
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    // No body limit while reading the header (Beast would fail an oversized
    // Content-Length there, before we could answer 413); it is set below.
    parser.body_limit(boost::none);
    beast::get_lowest_layer(stream).expires_after(ctx.options.header_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (ec) {
      if (auto answer = header_refusal(ec))
        co_await http_write::answer_and_close(stream, 11, std::move(*answer));
      co_return;
    }
    // RFC 9112 §6.3: a request whose Transfer-Encoding does not end in chunked has no
    // knowable length (Beast lets it through).
    if (parser.get().count(http::field::transfer_encoding) > 0 && !parser.chunked()) {
      HttpAnswer answer = http_write::error_answer(400, "VALIDATION_ERROR",
                                                   "malformed Content-Length or Transfer-Encoding");
      co_await http_write::answer_and_close(stream, parser.get().version(), std::move(answer));
      co_return;
    }

    if (beast::websocket::is_upgrade(parser.get())) {
      beast::get_lowest_layer(stream).expires_never();
      HttpRequest req = parser.release();
      auto target = split_target(req.target());
      const bool workers =
          ctx.worker_service && target && target->path == "/" + ctx.options.stage + "/workers";
      if (!target || (target->path != "/" + ctx.options.stage && !workers) || ctx.draining.load()) {
        HttpAnswer a = HttpAnswer::json(
            static_cast<unsigned>(ctx.draining.load() ? 503 : 404),
            R"({"error":{"code":"NOT_FOUND","message":"no WebSocket endpoint here"}})");
        co_await http_write::write_answer(stream, req, std::move(a));
        co_return;
      }
      Upgrade up{std::move(req), std::move(ip), std::nullopt, std::nullopt, {}};
      up.refusal = admit(ctx, up.req, target->query, up.remote_ip, up.token);
      up.service = workers ? ctx.worker_service : ctx.service;
      up.max_messages_per_second = workers ? ctx.options.worker_max_messages_per_second
                                           : ctx.options.max_messages_per_second;
      if (workers && !up.refusal) up.refusal = admit_worker(up.token);
      // Bytes the client sent right after its request are the start of its first frame.
      up.early.assign(static_cast<const char*>(buffer.data().data()), buffer.size());
      co_await upgrade_websocket(std::move(stream), std::move(up), ctx);
      co_return;
    }

    auto target = split_target(parser.get().target());
    if (target && parser.get().method() == http::verb::put && target->path.starts_with("/files/")) {
      if (!co_await serve_upload(stream, buffer, parser, *target, ctx, ip)) co_return;
      continue;
    }

    // Other routes take no body worth keeping: a small one is read and ignored, a
    // larger one refused without reading it.
    if (!parser.is_done()) {
      const auto declared = parser.content_length();
      if (declared && *declared > kSmallBodyLimit) {
        HttpAnswer answer =
            http_write::error_answer(413, "VALIDATION_ERROR", "this route takes no request body");
        co_await http_write::answer_and_close(stream, parser.get().version(), std::move(answer));
        co_return;
      }
      parser.body_limit(kSmallBodyLimit);
      auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kTuple);
      if (bec == http::error::body_limit) {
        HttpAnswer answer =
            http_write::error_answer(413, "VALIDATION_ERROR", "this route takes no request body");
        co_await http_write::answer_and_close(stream, parser.get().version(), std::move(answer));
        co_return;
      }
      if (bec) co_return;
    }
    HttpRequest req = parser.release();
    HttpAnswer answer;
    try {
      if (auto admin = admin_route(ctx, req)) {
        if (auto* call = std::get_if<AdminRequest>(&*admin))
          answer = co_await await_admin_answer(ctx, std::move(*call));
        else
          answer = std::move(std::get<HttpAnswer>(*admin));
      } else {
        answer = route_http(ctx, req);
      }
    } catch (const std::exception& e) {
      log_event(spdlog::level::err, "http_error", {{"error", e.what()}});
      answer = HttpAnswer::json(
          500, R"({"error":{"code":"INTERNAL_ERROR","message":"internal error"}})");
    }
    if (!co_await http_write::write_answer(stream, req, std::move(answer))) co_return;
  }
}

}  // namespace

asio::awaitable<void> serve_without_descriptors(asio::ip::tcp::socket socket, GatewayContext& ctx,
                                                bool tls) {
  // Short: the next waiting client can only be answered once this one is closed.
  constexpr auto kReadTimeout = std::chrono::seconds(1);
  if (tls) co_return;
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(kHeaderLimit);
  stream.expires_after(kReadTimeout);
  auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
  if (ec) co_return;
  const auto& req = parser.get();
  auto target = split_target(req.target());
  const bool health = target && target->path == "/healthz" &&
                      (req.method() == http::verb::get || req.method() == http::verb::head);
  HttpAnswer answer = http_write::error_answer(
      503, "INTERNAL_ERROR", "server is out of file descriptors", {{"retryable", true}});
  if (health) {
    answer.status = 200;
    answer.body = R"({"status":"ok"})";
  }
  co_await http_write::answer_and_close(stream, req.version(), std::move(answer));
}

asio::awaitable<void> serve_connection(asio::ip::tcp::socket socket, GatewayContext& ctx,
                                       asio::ssl::context* tls) {
  beast::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  std::string ip = ec ? std::string("unknown") : endpoint.address().to_string();
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  beast::tcp_stream tcp(std::move(socket));
  beast::flat_buffer early;  // read past a PROXY header: the client's first bytes
  if (ctx.options.proxy_protocol &&
      !co_await accept_proxy_header(tcp, ctx.trusted_proxies, ctx.options.header_timeout, ip, early,
                                    *ctx.proxy_refusals))
    co_return;
  if (!tls) {
    co_await serve_http(std::move(tcp), ctx, std::move(ip), std::move(early));
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), *tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(15));
  auto [hec, used] =
      co_await stream.async_handshake(asio::ssl::stream_base::server, early.data(), kTuple);
  if (hec) co_return;
  co_await serve_http(std::move(stream), ctx, std::move(ip), beast::flat_buffer{});
}

}  // namespace streamer
