#include "gateway/http_routes.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>

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
  return json_answer(status, json::object{{"error", json::object{{"code", code}, {"message", message}}}});
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
    if (auto* err = std::get_if<JwtError>(&verified)) return error_answer(401, "UNAUTHORIZED", err->reason);
    return ctx.hooks.artifact(req.target(), &std::get<VerifiedToken>(verified).identity);
  }
  if (path == "/" + ctx.options.stage) return error_answer(426, "VALIDATION_ERROR", "WebSocket upgrade required");
  return error_answer(404, "NOT_FOUND", "no such route");
}

}  // namespace streamer
