#include "artifacts/artifact_store.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <stdexcept>

#include "artifacts/content_type.hpp"
#include "artifacts/signing.hpp"

namespace streamer {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono;

class ArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("artifacts-test-" + artifacts::random_hex(6));
    store_ = std::make_unique<ArtifactStore>(
        ArtifactStoreOptions{root_, "http://127.0.0.1:8080/", "test-key", seconds(3600)});
  }
  void TearDown() override { fs::remove_all(root_); }

  ArtifactInfo publish_text(std::string_view tenant, std::string_view name, std::string_view text) {
    auto staged = store_->staging_path("pdf");
    std::ofstream(staged) << text;
    return store_->publish(tenant, staged, name);
  }

  // The request target (path + query) of an absolute URL.
  static std::string target_of(const std::string& url) {
    return url.substr(std::string("http://127.0.0.1:8080").size());
  }

  fs::path root_;
  std::unique_ptr<ArtifactStore> store_;
};

TEST_F(ArtifactStoreTest, PublishSignsAndResolves) {
  auto info = publish_text("tenant-1", "report.pdf", "%PDF-1.5 hello");
  EXPECT_EQ(info.size_bytes, 14u);
  EXPECT_EQ(info.expires_at - info.generated_at, seconds(3600));
  std::regex shape(
      R"(http://127\.0\.0\.1:8080/artifacts/tenant-1/\d+-[0-9a-f]{32}/report\.pdf\?expires=\d+&sig=[0-9a-f]{64})");
  EXPECT_TRUE(std::regex_match(info.url, shape)) << info.url;

  auto r = store_->resolve(target_of(info.url), system_clock::now());
  ASSERT_TRUE(r.artifact.has_value());
  EXPECT_EQ(r.artifact->content_type, "application/pdf");
  EXPECT_EQ(r.artifact->download_name, "report.pdf");
  EXPECT_EQ(r.artifact->content_disposition, "attachment; filename=\"report.pdf\"");
  EXPECT_EQ(r.artifact->tenant_id, "tenant-1");
  EXPECT_TRUE(fs::exists(r.artifact->file));
}

TEST_F(ArtifactStoreTest, TamperedPathExpiresOrSignatureIsRefused) {
  auto info = publish_text("tenant-1", "report.pdf", "x");
  auto target = target_of(info.url);
  auto sig_pos = target.find("&sig=") + 5;
  auto exp_pos = target.find("expires=") + 8;

  auto bad_sig = target;
  bad_sig[sig_pos] = bad_sig[sig_pos] == 'a' ? 'b' : 'a';
  EXPECT_EQ(store_->resolve(bad_sig, system_clock::now()).denial, ArtifactDenial::kBadSignature);

  auto bad_exp = target;
  bad_exp[exp_pos + 3] = bad_exp[exp_pos + 3] == '9' ? '8' : '9';
  EXPECT_EQ(store_->resolve(bad_exp, system_clock::now()).denial, ArtifactDenial::kBadSignature);

  auto bad_name = target;
  bad_name.replace(bad_name.find("report.pdf"), 10, "report.csv");
  EXPECT_EQ(store_->resolve(bad_name, system_clock::now()).denial, ArtifactDenial::kBadSignature);

  // Cross-tenant: the same id and signature under another tenant's directory.
  auto other = publish_text("tenant-2", "report.pdf", "y");
  auto cross = target;
  cross.replace(cross.find("tenant-1"), 8, "tenant-2");
  EXPECT_EQ(store_->resolve(cross, system_clock::now()).denial, ArtifactDenial::kBadSignature);
  EXPECT_TRUE(store_->resolve(target_of(other.url), system_clock::now()).artifact.has_value());

  // A signature made with another key.
  ArtifactStore other_key({root_, "http://127.0.0.1:8080", "other-key", seconds(3600)});
  EXPECT_EQ(other_key.resolve(target, system_clock::now()).denial, ArtifactDenial::kBadSignature);
}

TEST_F(ArtifactStoreTest, ExpiredUrlIsRefused) {
  auto info = publish_text("tenant-1", "r.csv", "a,b\n");
  auto target = target_of(info.url);
  EXPECT_TRUE(store_->resolve(target, info.expires_at - seconds(1)).artifact.has_value());
  EXPECT_EQ(store_->resolve(target, info.expires_at).denial, ArtifactDenial::kExpired);
  EXPECT_EQ(store_->resolve(target, info.expires_at + hours(1)).denial, ArtifactDenial::kExpired);
}

TEST_F(ArtifactStoreTest, TraversalAndMalformedTargetsAreRefused) {
  auto now = system_clock::now();
  const char* targets[] = {
      "/artifacts/../../etc/passwd?expires=9999999999&sig=",
      "/artifacts/tenant-1/../x/report.pdf?expires=1&sig=aa",
      "/artifacts/tenant-1/%2e%2e/report.pdf?expires=1&sig=aa",
      "/artifacts/tenant-1/id/.hidden?expires=1&sig=aa",
      "/artifacts/tenant-1/id/report.pdf",
      "/artifacts/tenant-1/id/report.pdf?expires=abc&sig=00",
      "/artifacts/tenant-1/id/sub/report.pdf?expires=1&sig=00",
      "/artifacts//id/report.pdf?expires=1&sig=00",
      "/other/tenant-1/id/report.pdf?expires=1&sig=00",
      "",
  };
  for (const char* t : targets) {
    auto r = store_->resolve(t, now);
    EXPECT_FALSE(r.artifact.has_value()) << t;
    EXPECT_EQ(r.denial, ArtifactDenial::kMalformed) << t;
  }
  // A correctly signed traversal cannot even be produced: a tenant id that is not
  // valid has no area, and names are sanitised.
  EXPECT_THROW(publish_text("../../etc", "passwd", "z"), std::invalid_argument);
  auto info = publish_text("tenant-1", "../../passwd", "z");
  EXPECT_EQ(info.relative_path.find(".."), std::string::npos) << info.relative_path;
  auto r = store_->resolve(target_of(info.url), now);
  ASSERT_TRUE(r.artifact.has_value());
  auto canonical_root = fs::weakly_canonical(root_).string();
  EXPECT_EQ(fs::weakly_canonical(r.artifact->file).string().rfind(canonical_root, 0), 0u);
}

TEST_F(ArtifactStoreTest, EachTenantHasItsOwnDirectoryNamedByItsId) {
  // Near-colliding legal ids stay apart; ids that earlier shared a hashed name with a
  // legal id ("t-" + hash for long or unsafe ids) have no directory at all.
  const std::vector<std::string> tenants = {"a.b", "a_b", "a-b", "x-2e2e", "ACME", "acme"};
  std::set<std::string> dirs;
  for (const std::string& tenant : tenants) {
    auto info = publish_text(tenant, "r.pdf", tenant);
    const std::string dir = info.relative_path.substr(0, info.relative_path.find('/'));
    EXPECT_EQ(dir, tenant);
    EXPECT_TRUE(dirs.insert(dir).second) << tenant;
    auto r = store_->resolve(target_of(info.url), system_clock::now());
    ASSERT_TRUE(r.artifact.has_value()) << tenant;
    EXPECT_EQ(r.artifact->tenant_id, tenant);
  }
  for (const std::string& bad : {std::string(".."), std::string(65, 'a'), std::string("a/b"),
                                 std::string("a\0b", 3), std::string()}) {
    EXPECT_THROW(publish_text(bad, "r.pdf", "x"), std::invalid_argument) << bad;
  }
  // A correctly signed URL whose tenant segment is not a tenant id is malformed.
  auto url =
      store_->signed_url(std::string(65, 'a') + "/123-abc/r.pdf", system_clock::now() + hours(1));
  EXPECT_EQ(store_->resolve(target_of(url), system_clock::now()).denial,
            ArtifactDenial::kMalformed);
}

TEST_F(ArtifactStoreTest, SignedButMissingFileIsNotFound) {
  auto url = store_->signed_url("tenant-1/123-abc/missing.pdf", system_clock::now() + hours(1));
  EXPECT_EQ(store_->resolve(target_of(url), system_clock::now()).denial, ArtifactDenial::kNotFound);
}

TEST_F(ArtifactStoreTest, RemoveExpiredDeletesOnlyExpiredArtifacts) {
  auto a = publish_text("tenant-1", "a.pdf", "a");
  ArtifactStore short_lived({root_, "http://127.0.0.1:8080", "test-key", seconds(10)});
  auto staged = short_lived.staging_path("csv");
  std::ofstream(staged) << "b";
  auto b = short_lived.publish("tenant-1", staged, "b.csv");

  EXPECT_EQ(store_->remove_expired(system_clock::now()), 0u);
  EXPECT_EQ(store_->remove_expired(b.expires_at), 1u);
  EXPECT_FALSE(fs::exists(root_ / fs::path(b.relative_path)));
  EXPECT_TRUE(fs::exists(root_ / fs::path(a.relative_path)));
  EXPECT_EQ(store_->remove_expired(a.expires_at + seconds(1)), 1u);
  EXPECT_FALSE(fs::exists(root_ / fs::path(a.relative_path)));
}

TEST(ArtifactHelpers, ContentTypesAndNames) {
  EXPECT_EQ(artifacts::content_type_for("x.csv"), "text/csv");
  EXPECT_EQ(artifacts::content_type_for("x.XLSX"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  EXPECT_EQ(artifacts::content_type_for("x.pdf"), "application/pdf");
  EXPECT_EQ(artifacts::content_type_for("x.json"), "application/json");
  EXPECT_EQ(artifacts::content_type_for("x.jsonl"), "application/x-ndjson");
  EXPECT_EQ(artifacts::content_type_for("x.parquet"), "application/vnd.apache.parquet");
  EXPECT_EQ(artifacts::content_type_for("noext"), "application/octet-stream");
  EXPECT_EQ(artifacts::sanitise_file_name("../a b/c\"d.pdf"), "c_d.pdf");
  EXPECT_EQ(artifacts::sanitise_file_name("..."), "artifact");
  EXPECT_EQ(artifacts::sanitise_file_name(""), "artifact");
  EXPECT_TRUE(artifacts::constant_time_equal("abc", "abc"));
  EXPECT_FALSE(artifacts::constant_time_equal("abc", "abd"));
  EXPECT_FALSE(artifacts::constant_time_equal("abc", "ab"));
}

}  // namespace
}  // namespace streamer
