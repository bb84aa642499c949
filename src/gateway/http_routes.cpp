#include "gateway/http_routes.hpp"

#include <openssl/crypto.h>
#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>

#include "console/console_assets.hpp"
#include "core/protocol.hpp"

namespace streamer {
namespace http = boost::beast::http;
namespace json = boost::json;

std::optional<Target> split_target(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return std::nullopt;
  return Target{std::string(parsed->path()), std::string(parsed->encoded_query())};
}

namespace {

HttpAnswer json_answer(unsigned status, json::object body) {
  HttpAnswer a;
  a.status = status;
  a.body = json::serialize(body);
  return a;
}

HttpAnswer error_answer(unsigned status, std::string_view code, std::string_view message) {
  return json_answer(status,
                     json::object{{"error", json::object{{"code", code}, {"message", message}}}});
}

// The web console's page or one of its files (`rest` is the path after "/console"),
// with headers that keep the page to its own origin: its scripts, styles and
// connections come from this server only, it cannot be framed, and it sends no
// Referer. Unknown names answer 404.
HttpAnswer console_answer(std::string_view rest) {
  auto asset = find_console_asset(rest);
  if (!asset) return error_answer(404, "NOT_FOUND", "no such console file");
  HttpAnswer a;
  a.content_type = std::string(asset->content_type);
  a.body = std::string(asset->body);
  a.headers = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Cache-Control", "no-cache"},
  };
  return a;
}

// Whether `req` may read /metrics: always when no token is configured, else only
// with `Authorization: Bearer <token>` (compared in constant time).
bool metrics_token_ok(const std::string& token, const HttpRequest& req) {
  if (token.empty()) return true;
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  const std::string expected = "Bearer " + token;
  const auto given = it->value();
  if (given.size() != expected.size()) return false;
  return CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

}  // namespace

HttpAnswer route_http(GatewayContext& ctx, const HttpRequest& req) {
  auto target = split_target(req.target());
  if (!target) return error_answer(400, "VALIDATION_ERROR", "bad request target");
  const std::string& path = target->path;
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;

  if (get && path == "/healthz") return json_answer(200, {{"status", "ok"}});
  if (get && path == "/readyz") {
    bool ready = ctx.accepting.load() && !ctx.draining.load();
    return json_answer(ready ? 200 : 503, {{"status", ready ? "ready" : "not_ready"}});
  }
  if (get && path == "/metrics") {
    if (!metrics_token_ok(ctx.options.metrics_token, req)) {
      return error_answer(401, "UNAUTHORIZED", "/metrics needs its bearer token");
    }
    HttpAnswer a;
    a.content_type = "text/plain; version=0.0.4; charset=utf-8";
    a.body = ctx.metrics.render();
    return a;
  }
  if (get && path.starts_with("/artifacts/")) {
    if (!ctx.hooks.artifact) return error_answer(404, "NOT_FOUND", "no artifacts");
    // Signed URLs work without a token; a token, when given, must be valid and the
    // caller's tenant must own the artifact.
    auto token = extract_token(req, target->query);
    if (auto* err = std::get_if<JwtError>(&token))
      return error_answer(401, "UNAUTHORIZED", err->reason);
    if (std::get<std::string>(token).empty()) return ctx.hooks.artifact(req.target(), nullptr);
    auto verified =
        ctx.verifier.verify(std::get<std::string>(token), std::chrono::system_clock::now());
    if (auto* err = std::get_if<JwtError>(&verified))
      return error_answer(401, "UNAUTHORIZED", err->reason);
    return ctx.hooks.artifact(req.target(), &std::get<VerifiedToken>(verified).identity);
  }
  if (get && (path == "/console" || path.starts_with("/console/")))
    return console_answer(path.substr(8));
  if (path == "/" + ctx.options.stage)
    return error_answer(426, "VALIDATION_ERROR", "WebSocket upgrade required");
  return error_answer(404, "NOT_FOUND", "no such route");
}

}  // namespace streamer
