#include "artifacts/artifact_store.hpp"

#include <charconv>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "artifacts/content_type.hpp"
#include "artifacts/signing.hpp"
#include "core/tenant_name.hpp"

namespace streamer {
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

constexpr std::string_view kPrefix = "/artifacts/";
constexpr const char* kStagingDir = ".staging";

std::int64_t to_unix(system_clock::time_point t) {
  return duration_cast<seconds>(t.time_since_epoch()).count();
}

// Parses a non-negative decimal integer of at most 18 digits; nullopt otherwise.
std::optional<std::int64_t> parse_unix(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    auto pos = text.find(sep);
    parts.push_back(text.substr(0, pos));
    if (pos == std::string_view::npos) break;
    text.remove_prefix(pos + 1);
  }
  return parts;
}

std::string signing_message(std::string_view relative_path, std::string_view expires) {
  std::string message(relative_path);
  message += '\n';
  message += expires;
  return message;
}

}  // namespace

ArtifactStore::ArtifactStore(ArtifactStoreOptions options) : options_(std::move(options)) {
  if (options_.signing_key.empty()) throw std::invalid_argument("artifact signing key is empty");
  if (options_.root.empty()) throw std::invalid_argument("artifact root is empty");
  while (!options_.public_url.empty() && options_.public_url.back() == '/')
    options_.public_url.pop_back();
  fs::create_directories(options_.root / kStagingDir);
}

fs::path ArtifactStore::staging_path(std::string_view extension) const {
  fs::path dir = options_.root / kStagingDir;
  fs::create_directories(dir);
  std::string ext = artifacts::sanitise_file_name(extension);
  return dir / (artifacts::random_hex(16) + "." + ext);
}

std::string ArtifactStore::signed_url(std::string_view relative_path,
                                      system_clock::time_point expires_at) const {
  std::string expires = std::to_string(to_unix(expires_at));
  std::string sig =
      artifacts::hmac_sha256_hex(options_.signing_key, signing_message(relative_path, expires));
  std::string url = options_.public_url;
  url += kPrefix;
  url += relative_path;
  url += "?expires=" + expires + "&sig=" + sig;
  return url;
}

ArtifactInfo ArtifactStore::publish(std::string_view tenant_id, const fs::path& staged_file,
                                    std::string_view download_name) {
  auto now = time_point_cast<seconds>(system_clock::now());
  auto expires_at = now + options_.ttl;
  std::string tenant_dir = tenant_storage_name(tenant_id);
  std::string id = std::to_string(to_unix(expires_at)) + "-" + artifacts::random_hex(16);
  std::string name = artifacts::sanitise_file_name(download_name);

  fs::path dir = options_.root / tenant_dir / id;
  fs::create_directories(dir);
  fs::path target = dir / name;
  std::error_code ec;
  fs::rename(staged_file, target, ec);
  if (ec) {  // e.g. staging on another file system: copy, then drop the original
    fs::copy_file(staged_file, target, fs::copy_options::overwrite_existing);
    fs::remove(staged_file, ec);
  }

  ArtifactInfo info;
  info.relative_path = tenant_dir + "/" + id + "/" + name;
  info.size_bytes = fs::file_size(target);
  info.generated_at = now;
  info.expires_at = expires_at;
  info.url = signed_url(info.relative_path, expires_at);
  return info;
}

ArtifactStore::Resolution ArtifactStore::resolve(std::string_view target,
                                                 system_clock::time_point now) const {
  Resolution out;
  out.denial = ArtifactDenial::kMalformed;
  if (target.size() > 4096 || !target.starts_with(kPrefix)) return out;
  target.remove_prefix(kPrefix.size());

  auto qpos = target.find('?');
  if (qpos == std::string_view::npos) return out;
  std::string_view path = target.substr(0, qpos);
  std::string_view query = target.substr(qpos + 1);

  auto segments = split(path, '/');
  if (segments.size() != 3) return out;
  if (!is_valid_tenant_id(segments[0])) return out;
  for (auto segment : segments) {
    if (!artifacts::is_safe_segment(segment)) return out;
  }

  std::optional<std::string_view> expires_text, sig;
  for (auto param : split(query, '&')) {
    auto eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    auto key = param.substr(0, eq);
    auto value = param.substr(eq + 1);
    if (key == "expires") {
      if (expires_text) return out;  // duplicated: ambiguous
      expires_text = value;
    } else if (key == "sig") {
      if (sig) return out;
      sig = value;
    }
  }
  if (!expires_text || !sig || sig->size() != 64) return out;
  auto expires = parse_unix(*expires_text);
  if (!expires) return out;

  std::string expected =
      artifacts::hmac_sha256_hex(options_.signing_key, signing_message(path, *expires_text));
  if (!artifacts::constant_time_equal(expected, *sig)) {
    out.denial = ArtifactDenial::kBadSignature;
    return out;
  }
  if (to_unix(now) >= *expires) {
    out.denial = ArtifactDenial::kExpired;
    return out;
  }

  fs::path file = options_.root / segments[0] / segments[1] / segments[2];
  std::error_code ec;
  auto status = fs::symlink_status(file, ec);
  if (ec || !fs::is_regular_file(status)) {
    out.denial = ArtifactDenial::kNotFound;
    return out;
  }
  ServedArtifact served;
  served.file = std::move(file);
  served.content_type = artifacts::content_type_for(segments[2]);
  served.download_name = std::string(segments[2]);
  // The name is [A-Za-z0-9._-] only, so it needs no quoting or RFC 5987 encoding.
  served.content_disposition = "attachment; filename=\"" + served.download_name + "\"";
  served.tenant_id = std::string(segments[0]);
  out.artifact = std::move(served);
  return out;
}

std::size_t ArtifactStore::remove_expired(system_clock::time_point now) {
  std::size_t removed = 0;
  std::error_code ec;
  const auto now_unix = to_unix(now);
  for (const auto& tenant : fs::directory_iterator(options_.root, ec)) {
    std::error_code iec;
    if (!tenant.is_directory(iec) || tenant.is_symlink(iec)) continue;
    auto tenant_name = tenant.path().filename().string();
    if (tenant_name == kStagingDir) {
      // Staged files abandoned by a crashed writer: older than a day.
      for (const auto& f : fs::directory_iterator(tenant.path(), iec)) {
        std::error_code fec;
        auto age = fs::file_time_type::clock::now() - fs::last_write_time(f.path(), fec);
        if (!fec && age > hours(24)) fs::remove_all(f.path(), fec);
      }
      continue;
    }
    for (const auto& item : fs::directory_iterator(tenant.path(), iec)) {
      auto id = item.path().filename().string();
      auto dash = id.find('-');
      if (dash == std::string::npos) continue;
      auto expires = parse_unix(std::string_view(id).substr(0, dash));
      if (!expires || *expires > now_unix) continue;
      std::error_code rec;
      fs::remove_all(item.path(), rec);
      if (!rec) ++removed;
    }
    // Tenant directories are kept: removing them could race a concurrent publish().
  }
  return removed;
}

}  // namespace streamer
