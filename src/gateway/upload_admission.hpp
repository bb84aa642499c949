// Who may start a `PUT /files/{path}`, decided on the request's header alone, before
// any byte of its body is read: a valid bearer token with the `write` permission, an
// allowed tenant, and a free slot under the per-user and per-address upload limits.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "gateway/gateway_context.hpp"
#include "gateway/http_routes.hpp"
#include "gateway/request_token.hpp"

namespace streamer {

// The caller's identity, or the answer refusing it (401 missing/invalid token, 403
// no `write` permission or tenant not allowed, 404 uploads not enabled).
std::variant<Identity, HttpAnswer> authenticate_upload(GatewayContext& ctx, const HttpRequest& req,
                                                       std::string_view query);

// An upload that may read its body: the slot it holds and where the bytes go.
struct AdmittedUpload {
  std::optional<UploadLimiter::Slot> slot;
  std::unique_ptr<UploadSink> sink;
};

// Takes an upload slot for `who` from `ip` and opens the destination `path` (decoded).
// Refusals: 429 RATE_LIMITED (details.limit uploads_per_user or uploads_per_address,
// limit_value, retry_after_ms) or what the upload hook answers (400 bad path, 500).
std::variant<AdmittedUpload, HttpAnswer> open_upload(GatewayContext& ctx, const Identity& who,
                                                     std::string_view path, const std::string& ip);

}  // namespace streamer
