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

std::string extract_token(const HttpRequest& req, std::string_view query) {
  if (!query.empty()) {
    const std::string origin = "/?" + std::string(query);  // the url_view points into it
    auto url = boost::urls::parse_origin_form(origin);
    if (url) {
      for (auto param : url->params()) {
        if (param.key == "Authorization" && param.has_value) return std::string(param.value);
      }
    }
  }
  auto it = req.find(http::field::authorization);
  if (it != req.end()) {
    std::string_view v = it->value();
    // The scheme is case-insensitive (RFC 7235); spaces after it are skipped.
    constexpr std::string_view kBearer = "bearer";
    if (v.size() > kBearer.size() && boost::beast::iequals(v.substr(0, kBearer.size()), kBearer) &&
        v[kBearer.size()] == ' ') {
      v.remove_prefix(kBearer.size());
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return std::string(v);
    }
  }
  return {};
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
    std::string token = extract_token(req, {});
    if (token.empty()) return ctx.hooks.artifact(req.target(), nullptr);
    auto verified = ctx.verifier.verify(token, std::chrono::system_clock::now());
    if (auto* err = std::get_if<JwtError>(&verified)) return error_answer(401, "UNAUTHORIZED", err->reason);
    return ctx.hooks.artifact(req.target(), &std::get<VerifiedToken>(verified).identity);
  }
  if (path == "/" + ctx.options.stage) return error_answer(426, "VALIDATION_ERROR", "WebSocket upgrade required");
  return error_answer(404, "NOT_FOUND", "no such route");
}

}  // namespace streamer
