#include "gateway/upload_admission.hpp"

#include <algorithm>

#include "gateway/http_write.hpp"

namespace streamer {

namespace {

// A client refused for a full upload slot may try again after this long; uploads
// are long, so this is a hint, not a promise.
constexpr std::int64_t kUploadRetryAfterMs = 1000;

HttpAnswer unauthorized(unsigned status, std::string_view message, std::string_view reason) {
  return http_write::error_answer(status, "UNAUTHORIZED", message,
                                  {{"reason", reason}, {"retryable", false}});
}

}  // namespace

std::variant<Identity, HttpAnswer> authenticate_upload(GatewayContext& ctx, const HttpRequest& req,
                                                       std::string_view query) {
  if (!ctx.hooks.upload)
    return http_write::error_answer(404, "NOT_FOUND", "uploads are not enabled");
  auto verified = authenticate(ctx.verifier, req, query, std::chrono::system_clock::now());
  if (auto* err = std::get_if<JwtError>(&verified)) {
    const bool missing = err->reason == "missing_token";
    return unauthorized(401, missing ? "missing bearer token" : err->message, err->reason);
  }
  Identity who = std::move(std::get<VerifiedToken>(verified).identity);
  const auto& allowed = ctx.options.allowed_tenants;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), who.tenant_id) == allowed.end())
    return unauthorized(403, "Tenant is not allowed here", "forbidden_tenant");
  if (!who.has_permission("write"))
    return unauthorized(403, "permission 'write' is required", "missing_permission");
  return who;
}

std::variant<AdmittedUpload, HttpAnswer> open_upload(GatewayContext& ctx, const Identity& who,
                                                     std::string_view path, const std::string& ip) {
  auto taken = ctx.upload_limiter.acquire(who.tenant_id, who.user_id, ip);
  if (auto* full = std::get_if<UploadLimiter::Full>(&taken)) {
    const bool per_user = *full == UploadLimiter::Full::kUser;
    const char* limit = per_user ? "uploads_per_user" : "uploads_per_address";
    ctx.metrics.record_rate_limited(limit);
    return http_write::error_answer(
        429, "RATE_LIMITED",
        per_user ? "Too many uploads at once for this user"
                 : "Too many uploads at once from this address",
        {{"limit", limit},
         {"limit_value",
          per_user ? ctx.options.max_uploads_per_user : ctx.options.max_uploads_per_address},
         {"retry_after_ms", kUploadRetryAfterMs},
         {"retryable", true}});
  }
  UploadOpening opening = ctx.hooks.upload(who, path);
  if (!opening.sink) return std::move(opening.refusal);
  AdmittedUpload admitted;
  admitted.slot.emplace(std::move(std::get<UploadLimiter::Slot>(taken)));
  admitted.sink = std::move(opening.sink);
  return admitted;
}

}  // namespace streamer
