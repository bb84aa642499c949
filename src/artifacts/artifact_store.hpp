// Artifact store: generated files (reports, pipeline outputs) kept on local disk
// under <data-dir>/artifacts/<tenant>/..., handed out as absolute HMAC-signed URLs
// that expire, and served by the gateway at GET /artifacts/...
//
// Layout: <root>/<tenant-dir>/<expires-unix>-<32 hex random>/<sanitised name>, where
// <tenant-dir> is tenant_storage_name(tenant id) (core/tenant_name.hpp), and
// <root>/.staging/ for files being written. The expiry is encoded in the id
// directory so remove_expired() needs no database. The signature is
// HMAC-SHA256(signing_key, "<tenant-dir>/<id>/<name>\n<expires>") in hex; a URL
// edited to another tenant's path, another expiry or another name fails it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace streamer {

struct ArtifactInfo {
  std::string url;  // absolute: <public_url>/artifacts/<tenant>/<id>/<name>?expires=..&sig=..
  std::string relative_path;     // <tenant>/<id>/<name>, below the store root
  std::uint64_t size_bytes = 0;  // real size of the stored file
  std::chrono::system_clock::time_point generated_at;
  std::chrono::system_clock::time_point expires_at;
};

// What GET /artifacts/... resolves to when its signature and expiry check out.
struct ServedArtifact {
  std::filesystem::path file;
  std::string content_type;         // from the extension (text/csv, application/pdf, ...)
  std::string download_name;        // the sanitised file name
  std::string content_disposition;  // ready header value: attachment; filename="<name>"
  std::string tenant_id;            // the tenant directory: tenant_storage_name(tenant)
};

enum class ArtifactDenial { kBadSignature, kExpired, kNotFound, kMalformed };

struct ArtifactStoreOptions {
  std::filesystem::path root;  // usually <data-dir>/artifacts
  std::string public_url;      // e.g. http://127.0.0.1:8080 (no trailing slash)
  std::string signing_key;     // HMAC-SHA256 key; from config, never the repo
  std::chrono::seconds ttl{7 * 24 * 3600};
};

class ArtifactStore {
 public:
  explicit ArtifactStore(ArtifactStoreOptions options);

  // A fresh path in the store's staging area to write a file to before publish().
  // The directory exists; the file does not.
  std::filesystem::path staging_path(std::string_view extension) const;

  // Moves a finished file into the tenant's area under `download_name` (sanitised)
  // and returns its signed URL. Thread-safe. Throws std::invalid_argument for an
  // invalid tenant id (see core/tenant_name.hpp), which has no area.
  ArtifactInfo publish(std::string_view tenant_id, const std::filesystem::path& staged_file,
                       std::string_view download_name);

  // Checks a request target such as "/artifacts/t/id/name.pdf?expires=..&sig=..".
  // On success returns the file to serve; otherwise why it was refused (the gateway
  // answers 403 for kBadSignature/kExpired/kMalformed and 404 for kNotFound).
  struct Resolution {
    std::optional<ServedArtifact> artifact;
    ArtifactDenial denial = ArtifactDenial::kMalformed;
  };
  Resolution resolve(std::string_view target, std::chrono::system_clock::time_point now) const;

  // Deletes artifacts whose expiry has passed; returns how many were removed.
  std::size_t remove_expired(std::chrono::system_clock::time_point now);

  // The signed absolute URL of `relative_path` (<tenant>/<id>/<name>) valid until
  // `expires_at` (whole seconds). Exposed for tests and for re-signing.
  std::string signed_url(std::string_view relative_path,
                         std::chrono::system_clock::time_point expires_at) const;

  const ArtifactStoreOptions& options() const noexcept { return options_; }

 private:
  ArtifactStoreOptions options_;
};

}  // namespace streamer
