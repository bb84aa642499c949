// Fuzzes the HTTP upload path: the request target split by the gateway
// (gateway/http_routes split_target) and the client path checks of the file sandbox
// (process/file_sandbox check_client_path, resolve_in_sandbox).
//
// The input is a request target ("/files/data/x.csv?Authorization=..."). Invariants:
//  - split_target gives a path starting with "/" or refuses the target;
//  - a client path accepted by check_client_path (the part after "/files/", and the
//    raw input itself) is relative, has no root, no empty, "." or ".." component, no
//    control character or backslash, and stays inside the sandbox root lexically;
//  - resolve_in_sandbox, run against a sandbox in a temp directory that holds symlinks
//    leading outside it, returns a path strictly inside the canonical root or throws
//    HandlerError(VALIDATION_ERROR). Nothing is created outside the temp directory.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/handler.hpp"
#include "fuzz_check.hpp"
#include "gateway/http_routes.hpp"
#include "handlers/process/file_sandbox.hpp"

namespace fs = std::filesystem;
using namespace streamer;

namespace {

// <tmp>/sandbox (the root) with data/, a link "escape" -> ../outside, a link
// "data/up" -> .. and a link "abs" -> /; <tmp>/outside exists beside it.
struct Sandbox {
  fs::path dir, root, canonical_root;
  Sandbox() {
    std::string tmpl = (fs::temp_directory_path() / "streamer-fuzz-upload-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    dir = tmpl;
    root = dir / "sandbox";
    fs::create_directories(root / "data");
    fs::create_directories(dir / "outside");
    fs::create_directory_symlink("../outside", root / "escape");
    fs::create_directory_symlink("..", root / "data" / "up");
    fs::create_directory_symlink("/", root / "abs");
    canonical_root = fs::canonical(root);
  }
  ~Sandbox() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

bool inside(const fs::path& root, const fs::path& p) {
  const std::string r = root.generic_string() + "/";
  const std::string s = p.generic_string();
  return s.size() > r.size() && s.compare(0, r.size(), r) == 0;
}

void check_client_path_accepts_only_safe(std::string_view client_path, const Sandbox& box) {
  fs::path rel;
  try {
    rel = process::check_client_path(client_path, "path");
  } catch (const HandlerError& e) {
    FUZZ_CHECK(e.code() == ErrorCode::kValidationError, "a refused path is not VALIDATION_ERROR");
    return;
  }
  FUZZ_CHECK(rel.is_relative() && !rel.has_root_path(), "an accepted path is absolute");
  FUZZ_CHECK(!rel.empty(), "an accepted path is empty");
  for (const auto& part : rel) {
    const std::string s = part.string();
    FUZZ_CHECK(!s.empty() && s != "." && s != "..",
               "an accepted path has an empty, . or .. component");
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      FUZZ_CHECK(u >= 0x20 && u != 0x7f && c != '\\' && c != '/',
                 "an accepted path has a control character");
    }
  }
  FUZZ_CHECK(inside(box.root, (box.root / rel).lexically_normal()),
             "an accepted path leaves the root");

  try {
    const fs::path resolved = process::resolve_in_sandbox(box.root, client_path, "path");
    FUZZ_CHECK(inside(box.canonical_root, resolved), "a resolved path leaves the sandbox");
  } catch (const HandlerError& e) {
    FUZZ_CHECK(e.code() == ErrorCode::kValidationError,
               "a refused resolution is not VALIDATION_ERROR");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Sandbox box;
  const std::string_view target(reinterpret_cast<const char*>(data), size);

  check_client_path_accepts_only_safe(target, box);
  const auto split = split_target(target);
  if (!split) return 0;
  FUZZ_CHECK(!split->path.empty() && split->path.front() == '/',
             "a split path does not start with /");
  constexpr std::string_view kPrefix = "/files/";
  if (std::string_view(split->path).starts_with(kPrefix)) {
    check_client_path_accepts_only_safe(std::string_view(split->path).substr(kPrefix.size()), box);
  }
  return 0;
}
