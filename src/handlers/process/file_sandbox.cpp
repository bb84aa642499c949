#include "handlers/process/file_sandbox.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "core/tenant_name.hpp"

namespace streamer::process {
namespace fs = std::filesystem;

namespace {

bool within(const fs::path& root, const fs::path& p) {
  auto r = root.lexically_normal().generic_string();
  auto s = p.lexically_normal().generic_string();
  if (!r.empty() && r.back() == '/') r.pop_back();
  return s == r || (s.size() > r.size() && s.compare(0, r.size(), r) == 0 && s[r.size()] == '/');
}

UploadOutcome failure(unsigned status, std::string_view code, const std::string& message,
                      boost::json::object details = {}) {
  UploadOutcome o;
  o.status = status;
  details["retryable"] = status >= 500;
  o.body["error"] =
      boost::json::object{{"code", code}, {"message", message}, {"details", std::move(details)}};
  return o;
}

}  // namespace

fs::path sandbox_root(const HandlerEnvironment& env, std::string_view tenant_id) {
  if (!is_valid_tenant_id(tenant_id)) {
    throw HandlerError(ErrorCode::kUnauthorized, "the tenant id is not valid",
                       {{"reason", "invalid_tenant_id"}});
  }
  return env.data_dir / "files" / tenant_storage_name(tenant_id);
}

fs::path check_client_path(std::string_view client_path, std::string_view field) {
  auto refuse = [&](const std::string& why) {
    return HandlerError::validation(
        field, "a relative path inside your file sandbox, e.g. /data/input.csv",
        boost::json::string(std::string(client_path.substr(0, 256))), why);
  };
  if (client_path.empty()) throw refuse("the path is empty");
  if (client_path.size() > 1024) throw refuse("the path is longer than 1024 bytes");
  fs::path out;
  std::size_t pos = 0;
  while (pos <= client_path.size()) {
    std::size_t end = client_path.find('/', pos);
    if (end == std::string_view::npos) end = client_path.size();
    std::string_view part = client_path.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty()) continue;
    if (part == "." || part == "..")
      throw refuse("path traversal ('" + std::string(part) + "') is not allowed");
    for (char c : part) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) throw refuse("the path contains a control or NUL character");
      if (c == '\\') throw refuse("backslashes are not allowed in paths");
    }
    if (part.size() > 255) throw refuse("a path component is longer than 255 bytes");
    out /= fs::path(std::string(part));
  }
  if (out.empty()) throw refuse("the path names no file");
  return out;
}

fs::path resolve_in_sandbox(const fs::path& root, std::string_view client_path,
                            std::string_view field) {
  fs::path rel = check_client_path(client_path, field);
  std::error_code ec;
  fs::create_directories(root, ec);
  fs::path canon_root = fs::weakly_canonical(root, ec);
  if (ec) throw HandlerError(ErrorCode::kInternalError, "file sandbox unavailable");
  fs::path full = canon_root / rel;
  // weakly_canonical resolves every symlink of the existing prefix.
  fs::path resolved = fs::weakly_canonical(full, ec);
  if (ec || !within(canon_root, resolved) || resolved == canon_root)
    throw HandlerError::validation(field, "a path inside your file sandbox",
                                   boost::json::string(std::string(client_path.substr(0, 256))),
                                   "the path leaves the file sandbox (symlink)");
  return resolved;
}

UploadInProgress::UploadInProgress(int fd, std::string temp_path, fs::path dest,
                                   std::string client_path)
    : fd_(fd),
      temp_path_(std::move(temp_path)),
      dest_(std::move(dest)),
      client_path_(std::move(client_path)) {}

UploadInProgress::~UploadInProgress() { discard(); }

void UploadInProgress::discard() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(temp_path_.c_str());
}

bool UploadInProgress::write(const char* data, std::size_t n) {
  if (failed_ || fd_ < 0) return false;
  while (n > 0) {
    const ssize_t w = ::write(fd_, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      failed_ = true;
      discard();
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
    size_ += static_cast<std::uint64_t>(w);
  }
  return true;
}

UploadOutcome UploadInProgress::commit() {
  if (failed_ || fd_ < 0) return failure(500, "INTERNAL_ERROR", "could not store the file");
  bool ok = ::fsync(fd_) == 0;
  ::fchmod(fd_, 0640);
  ok = (::close(fd_) == 0) && ok;
  fd_ = -1;
  if (!ok || std::rename(temp_path_.c_str(), dest_.c_str()) != 0) {
    ::unlink(temp_path_.c_str());
    return failure(500, "INTERNAL_ERROR", "could not store the file");
  }
  UploadOutcome o;
  o.status = 201;
  o.body["path"] = client_path_;
  o.body["size_bytes"] = size_;
  return o;
}

UploadStart begin_upload(const HandlerEnvironment& env, const Identity& identity,
                         std::string_view path) {
  UploadStart start;
  try {
    fs::path root = sandbox_root(env, identity.tenant_id);
    fs::path dest = resolve_in_sandbox(root, path, "path");
    std::error_code ec;
    auto refuse = [&](std::string message, std::string expected) {
      start.refusal = failure(400, "VALIDATION_ERROR", message,
                              {{"field", "path"}, {"expected", expected}, {"received", path}});
      return std::move(start);
    };
    if (fs::is_directory(dest, ec)) return refuse("the path names a directory", "a file path");
    fs::create_directories(dest.parent_path(), ec);
    if (ec) {
      if (fs::exists(dest.parent_path()) && !fs::is_directory(dest.parent_path()))
        return refuse("a parent of the path is a file", "a file path");
      start.refusal = failure(500, "INTERNAL_ERROR", "could not create the directory");
      return start;
    }
    // Re-check after creating directories: nothing may have redirected us outside.
    dest = resolve_in_sandbox(root, path, "path");
    std::string temp = (dest.parent_path() / ".upload-XXXXXX").string();
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) {
      start.refusal = failure(500, "INTERNAL_ERROR", "could not create a temporary file");
      return start;
    }
    std::string shown = "/" + fs::relative(dest, fs::weakly_canonical(root)).generic_string();
    start.file =
        std::make_unique<UploadInProgress>(fd, std::move(temp), std::move(dest), std::move(shown));
    return start;
  } catch (const HandlerError& e) {
    start.refusal.status = e.code() == ErrorCode::kValidationError ? 400 : 500;
    boost::json::object details = e.details();
    details["retryable"] = e.retryable();
    start.refusal.body["error"] = boost::json::object{
        {"code", to_string(e.code())}, {"message", e.what()}, {"details", details}};
    return start;
  } catch (const std::exception&) {
    start.refusal = failure(500, "INTERNAL_ERROR", "could not store the file");
    return start;
  }
}

UploadOutcome store_uploaded_file(const HandlerEnvironment& env, const Identity& identity,
                                  std::string_view path, std::string_view body) {
  auto start = begin_upload(env, identity, path);
  if (!start.file) return std::move(start.refusal);
  if (!start.file->write(body.data(), body.size()))
    return failure(500, "INTERNAL_ERROR", "could not store the file");
  return start.file->commit();
}

}  // namespace streamer::process
