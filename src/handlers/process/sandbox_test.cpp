#include <gtest/gtest.h>

#include <fstream>

#include "handlers/process/file_sandbox.hpp"
#include "handlers/process/test_util.hpp"

using namespace streamer;
using namespace streamer::process;
namespace fs = std::filesystem;

namespace {

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const HandlerError& e) {
    return e.code();
  }
  return ErrorCode::kCancelled;  // "no error" marker for these tests
}

std::string contents(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(Sandbox, NormalisesClientPaths) {
  EXPECT_EQ(check_client_path("/data/input.csv", "f"), fs::path("data/input.csv"));
  EXPECT_EQ(check_client_path("data//x.csv", "f"), fs::path("data/x.csv"));
}

TEST(Sandbox, RefusesTraversalAndControlCharacters) {
  for (std::string bad :
       std::vector<std::string>{"../etc/passwd", "/data/../../x", "a/./b", "..", "/", "",
                                "a\\..\\b", std::string("a\0b", 3), "a\nb"}) {
    EXPECT_EQ(code_of([&] { check_client_path(bad, "f"); }), ErrorCode::kValidationError) << bad;
  }
}

TEST(Sandbox, TenantDirectoriesCannotEscape) {
  HandlerEnvironment env;
  env.data_dir = "/srv/data";
  EXPECT_EQ(sandbox_root(env, "t1"), fs::path("/srv/data/files/t1"));
  // Invalid ids name no directory at all (they are refused with the token).
  for (std::string bad : {std::string(".."), std::string("."), std::string("a/b"),
                          std::string("a\0b", 3), std::string(200, 'a'), std::string()}) {
    EXPECT_EQ(code_of([&] { sandbox_root(env, bad); }), ErrorCode::kUnauthorized) << bad;
  }
}

TEST(Sandbox, DistinctTenantsGetDistinctDirectories) {
  HandlerEnvironment env;
  env.data_dir = "/srv/data";
  // Pairs that shared a directory under the earlier hex escape ("x-2e2e" was the
  // escape of "..") or could be confused by a case- or dot-folding scheme.
  const std::vector<std::pair<std::string, std::string>> near = {
      {"x-2e2e", ".."}, {"a.b", "a_b"}, {"a.b", "a-b"},
      {"acme", "ACME"}, {"t1", "t1."},  {"x-612f62", "a/b"}};
  for (const auto& [a, b] : near) {
    fs::path root_a = sandbox_root(env, a);
    EXPECT_EQ(root_a.parent_path(), fs::path("/srv/data/files"));
    try {
      EXPECT_NE(root_a, sandbox_root(env, b)) << a << " vs " << b;
    } catch (const HandlerError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnauthorized);  // b is not a tenant id: no directory
    }
  }
}

TEST(Sandbox, RefusesSymlinkEscapes) {
  testutil::TempDir dir;
  fs::path root = dir.path / "files" / "t1";
  fs::create_directories(root);
  fs::create_directories(dir.path / "secret");
  testutil::write_file(dir.path / "secret" / "x.csv", "a\n1\n");
  fs::create_directory_symlink(dir.path / "secret", root / "link");
  EXPECT_EQ(code_of([&] { resolve_in_sandbox(root, "/link/x.csv", "f"); }),
            ErrorCode::kValidationError);
  fs::create_directories(root / "inside");
  fs::create_directory_symlink(root / "inside", root / "ok");
  EXPECT_NO_THROW(resolve_in_sandbox(root, "/ok/x.csv", "f"));
}

TEST(Sandbox, StoresUploadsAtomically) {
  testutil::TempDir dir;
  HandlerEnvironment env;
  env.data_dir = dir.path;
  Identity id{"u", "t1", {"write"}};
  auto ok = store_uploaded_file(env, id, "data/in put.csv", "a,b\n1,2\n");
  EXPECT_EQ(ok.status, 201u);
  EXPECT_EQ(ok.body.at("path").as_string(), "/data/in put.csv");
  EXPECT_EQ(ok.body.at("size_bytes").as_uint64(), 8u);
  EXPECT_TRUE(fs::exists(dir.path / "files" / "t1" / "data" / "in put.csv"));
  for (const auto& e : fs::directory_iterator(dir.path / "files" / "t1" / "data"))
    EXPECT_EQ(e.path().filename().string().rfind(".upload-", 0), std::string::npos);

  EXPECT_EQ(store_uploaded_file(env, id, "../escape.csv", "x").status, 400u);
  EXPECT_EQ(store_uploaded_file(env, id, std::string("a\0b.csv", 7), "x").status, 400u);
  auto dir_answer = store_uploaded_file(env, id, "data", "x");  // a directory
  EXPECT_EQ(dir_answer.status, 400u);
  EXPECT_EQ(dir_answer.body.at("error").at("code").as_string(), "VALIDATION_ERROR");
  EXPECT_FALSE(fs::exists(dir.path / "files" / "escape.csv"));
}

TEST(Sandbox, UploadPathsAreUsedAsGiven) {
  // The gateway decodes the URL once; a '%' left after that is part of the name.
  testutil::TempDir dir;
  HandlerEnvironment env;
  env.data_dir = dir.path;
  Identity id{"u", "t1", {"write"}};
  auto ok = store_uploaded_file(env, id, "100%.csv", "x\n");
  EXPECT_EQ(ok.status, 201u);
  EXPECT_EQ(ok.body.at("path").as_string(), "/100%.csv");
  EXPECT_TRUE(fs::exists(dir.path / "files" / "t1" / "100%.csv"));
  EXPECT_EQ(store_uploaded_file(env, id, "%2e%2e", "x").status, 201u);  // a name, not a traversal
}

TEST(Sandbox, StreamedUploadIsInvisibleUntilCommitted) {
  testutil::TempDir dir;
  HandlerEnvironment env;
  env.data_dir = dir.path;
  Identity id{"u", "t1", {"write"}};
  const fs::path data = dir.path / "files" / "t1" / "data";
  {
    auto start = begin_upload(env, id, "/data/big.csv");
    ASSERT_TRUE(start.file);
    EXPECT_TRUE(start.file->write("a,b\n", 4));
    EXPECT_TRUE(start.file->write("1,2\n", 4));
    EXPECT_FALSE(fs::exists(data / "big.csv"));
    // Abandoned (the client went away): nothing stored, no temporary file left.
  }
  EXPECT_FALSE(fs::exists(data / "big.csv"));
  EXPECT_TRUE(fs::is_empty(data));

  auto start = begin_upload(env, id, "/data/big.csv");
  ASSERT_TRUE(start.file);
  EXPECT_TRUE(start.file->write("a,b\n1,2\n", 8));
  auto done = start.file->commit();
  EXPECT_EQ(done.status, 201u);
  EXPECT_EQ(done.body.at("size_bytes").as_uint64(), 8u);
  EXPECT_EQ(contents(data / "big.csv"), "a,b\n1,2\n");
  start.file.reset();
  EXPECT_TRUE(fs::exists(data / "big.csv"));  // destroying a committed upload keeps it

  auto refused = begin_upload(env, id, "../x.csv");
  EXPECT_FALSE(refused.file);
  EXPECT_EQ(refused.refusal.status, 400u);
}
