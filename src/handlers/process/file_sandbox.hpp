// The per-tenant file sandbox: <data-dir>/files/<tenant>/. Client paths such as
// "/data/input.csv" are relative to it; nothing outside it can be named.
#pragma once

#include <boost/json.hpp>
#include <filesystem>
#include <string_view>

#include "core/handler.hpp"

namespace streamer::process {

// <data_dir>/files/<tenant_storage_name(tenant_id)>: one directory per tenant, never
// shared, never outside files/. Throws HandlerError UNAUTHORIZED (details.reason
// "invalid_tenant_id") for an invalid tenant id, which has no sandbox (ids are
// validated with the token, so a connected caller's id is always valid).
std::filesystem::path sandbox_root(const HandlerEnvironment& env, std::string_view tenant_id);

// Checks a client path's syntax without touching the disk: non-empty, at most 1024
// bytes, no NUL or control characters, no backslashes, no "." or ".." component, and
// not only slashes. A leading "/" is the sandbox root. Returns the normalised
// relative path ("data/input.csv"). Throws HandlerError::validation naming `field`.
std::filesystem::path check_client_path(std::string_view client_path, std::string_view field);

// check_client_path() plus the disk check: the deepest existing ancestor of the
// result, with symlinks resolved, must still lie inside `root`. Returns the absolute
// path (which may not exist). Throws HandlerError::validation naming `field`.
std::filesystem::path resolve_in_sandbox(const std::filesystem::path& root, std::string_view client_path,
                                         std::string_view field);

// Answer of the gateway's `PUT /files/{path}`.
struct UploadOutcome {
  unsigned status = 500;       // 201 stored, 400 bad path, 500 disk failure
  boost::json::object body;    // 201: {path, size_bytes}; else {error:{code,message,details}}
};

// Stores an uploaded file in the caller's sandbox. `url_path` is the part of the
// target after "/files/" (still percent-encoded; it is decoded here). The caller
// (gateway) has already verified the token, the `write` permission and the size
// limit. The write is atomic: a temp file in the same directory is fsynced and
// renamed over the destination, so readers never see a partial file. Never throws.
UploadOutcome store_uploaded_file(const HandlerEnvironment& env, const Identity& identity,
                                  std::string_view url_path, std::string_view body);

}  // namespace streamer::process
