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

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes; returns false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || hex(in[i + 1]) < 0 || hex(in[i + 2]) < 0) return false;
    out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
    i += 2;
  }
  return true;
}

UploadOutcome failure(unsigned status, std::string_view code, const std::string& message,
                      boost::json::object details = {}) {
  UploadOutcome o;
  o.status = status;
  details["retryable"] = status >= 500;
  o.body["error"] = boost::json::object{{"code", code}, {"message", message}, {"details", std::move(details)}};
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
    return HandlerError::validation(field, "a relative path inside your file sandbox, e.g. /data/input.csv",
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
    if (part == "." || part == "..") throw refuse("path traversal ('" + std::string(part) + "') is not allowed");
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

fs::path resolve_in_sandbox(const fs::path& root, std::string_view client_path, std::string_view field) {
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

UploadOutcome store_uploaded_file(const HandlerEnvironment& env, const Identity& identity,
                                  std::string_view url_path, std::string_view body) {
  try {
    std::string decoded;
    if (!percent_decode(url_path, decoded))
      return failure(400, "VALIDATION_ERROR", "malformed percent-encoding in the path",
                     {{"field", "path"}, {"expected", "a percent-encoded path"}, {"received", url_path}});
    fs::path root = sandbox_root(env, identity.tenant_id);
    fs::path dest = resolve_in_sandbox(root, decoded, "path");
    std::error_code ec;
    if (fs::is_directory(dest, ec))
      return failure(400, "VALIDATION_ERROR", "the path names a directory",
                     {{"field", "path"}, {"expected", "a file path"}, {"received", decoded}});
    fs::create_directories(dest.parent_path(), ec);
    if (ec) {
      if (fs::exists(dest.parent_path()) && !fs::is_directory(dest.parent_path()))
        return failure(400, "VALIDATION_ERROR", "a parent of the path is a file",
                       {{"field", "path"}, {"expected", "a file path"}, {"received", decoded}});
      return failure(500, "INTERNAL_ERROR", "could not create the directory");
    }
    // Re-check after creating directories: nothing may have redirected us outside.
    dest = resolve_in_sandbox(root, decoded, "path");
    std::string tmpl = (dest.parent_path() / ".upload-XXXXXX").string();
    int fd = ::mkstemp(tmpl.data());
    if (fd < 0) return failure(500, "INTERNAL_ERROR", "could not create a temporary file");
    const char* p = body.data();
    std::size_t left = body.size();
    bool ok = true;
    while (left > 0) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        ok = false;
        break;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    ::fchmod(fd, 0640);
    ok = (::close(fd) == 0) && ok;
    if (!ok || std::rename(tmpl.c_str(), dest.c_str()) != 0) {
      ::unlink(tmpl.c_str());
      return failure(500, "INTERNAL_ERROR", "could not store the file");
    }
    UploadOutcome o;
    o.status = 201;
    o.body["path"] = "/" + fs::relative(dest, fs::weakly_canonical(root)).generic_string();
    o.body["size_bytes"] = static_cast<std::uint64_t>(body.size());
    return o;
  } catch (const HandlerError& e) {
    UploadOutcome o;
    o.status = e.code() == ErrorCode::kValidationError ? 400 : 500;
    boost::json::object details = e.details();
    details["retryable"] = e.retryable();
    o.body["error"] = boost::json::object{{"code", to_string(e.code())}, {"message", e.what()}, {"details", details}};
    return o;
  } catch (const std::exception& e) {
    return failure(500, "INTERNAL_ERROR", "could not store the file");
  }
}

}  // namespace streamer::process
