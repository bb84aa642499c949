// The per-tenant file sandbox: <data-dir>/files/<tenant>/. Client paths such as
// "/data/input.csv" are relative to it; nothing outside it can be named.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
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
std::filesystem::path resolve_in_sandbox(const std::filesystem::path& root,
                                         std::string_view client_path, std::string_view field);

// Answer of the gateway's `PUT /files/{path}`.
struct UploadOutcome {
  unsigned status = 500;     // 201 stored, 400 bad path, 500 disk failure
  boost::json::object body;  // 201: {path, size_bytes}; else {error:{code,message,details}}
};

// A file being received into the caller's sandbox, written as it arrives to a
// temporary file (".upload-XXXXXX") beside its destination. Nothing is visible under
// the destination's name until commit(), which fsyncs and renames it into place;
// destroying an uncommitted upload removes the temporary file. Not thread-safe.
class UploadInProgress {
 public:
  UploadInProgress(int fd, std::string temp_path, std::filesystem::path dest,
                   std::string client_path);
  ~UploadInProgress();
  UploadInProgress(const UploadInProgress&) = delete;
  UploadInProgress& operator=(const UploadInProgress&) = delete;

  // Appends bytes; false when the disk refused them (the upload is then lost).
  bool write(const char* data, std::size_t n);
  // Stores the file under its name: 201 {path, size_bytes}, or 500 on a disk failure.
  // Call at most once.
  UploadOutcome commit();

 private:
  void discard();

  int fd_;
  std::string temp_path_;
  std::filesystem::path dest_;
  std::string client_path_;  // "/data/input.csv", as answered
  std::uint64_t size_ = 0;
  bool failed_ = false;
};

// Either a started upload or why it cannot start (400 bad path, 500 disk failure).
struct UploadStart {
  std::unique_ptr<UploadInProgress> file;
  UploadOutcome refusal;
};

// Starts storing a file at `path` (the part of the target after "/files/", already
// percent-decoded once by the gateway: it is used as-is) in the caller's sandbox:
// checks the path, creates its directories and the temporary file. The caller
// (gateway) has already verified the token and the `write` permission, and bounds the
// body's size. Never throws.
UploadStart begin_upload(const HandlerEnvironment& env, const Identity& identity,
                         std::string_view path);

// begin_upload() + write(body) + commit(), for a body already in memory. Never throws.
UploadOutcome store_uploaded_file(const HandlerEnvironment& env, const Identity& identity,
                                  std::string_view path, std::string_view body);

}  // namespace streamer::process
