#include "core/tenant_name.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <stdexcept>
#include <string>

namespace streamer {
namespace {

using namespace std::string_literals;

TEST(TenantId, AcceptsTheDocumentedAlphabet) {
  for (std::string_view id : {"t1", "acme", "tenant-1", "a.b", "a_b", "A-Z.09_", "x-2e2e", "_", "-",
                              "a..b", "trailing."}) {
    EXPECT_TRUE(is_valid_tenant_id(id)) << id;
  }
  EXPECT_TRUE(is_valid_tenant_id(std::string(kMaxTenantIdBytes, 'a')));
}

TEST(TenantId, RefusesEverythingElse) {
  for (std::string_view id : {"", ".", "..", ".hidden", "a/b", "/", "a\\b", "a b", "a:b", "%2e%2e",
                              "a\tb", "\xc3\xa9t\xc3\xa9", "a+b", "a~b"}) {
    EXPECT_FALSE(is_valid_tenant_id(id)) << id;
  }
  EXPECT_FALSE(is_valid_tenant_id("ab\0c"s));
  EXPECT_FALSE(is_valid_tenant_id("\0"s));
  EXPECT_FALSE(is_valid_tenant_id(std::string(kMaxTenantIdBytes + 1, 'a')));
  EXPECT_FALSE(is_valid_tenant_id(std::string(200, 'a')));
}

TEST(UserId, AllowsPrintableUtf8UpToTheCap) {
  for (std::string_view id :
       {"user-1", "alice@example.com", "auth0|5f7c8ec7c33c6c004bbafe82", "a b/c:d",
        "\xc3\xa9l\xc3\xa8ve", "\xe2\x82\xac", "\xf0\x9f\x98\x80"}) {
    EXPECT_TRUE(is_valid_user_id(id)) << id;
  }
  EXPECT_TRUE(is_valid_user_id(std::string(kMaxUserIdBytes, 'u')));
}

TEST(UserId, RefusesControlsInvalidUtf8AndOverlongIds) {
  EXPECT_FALSE(is_valid_user_id(""));
  EXPECT_FALSE(is_valid_user_id("a\0b"s));
  EXPECT_FALSE(is_valid_user_id("a\nb"));
  EXPECT_FALSE(is_valid_user_id("a\x1b[31m"));
  EXPECT_FALSE(is_valid_user_id("a\x7f"));
  EXPECT_FALSE(is_valid_user_id("a\xc2\x85"));         // U+0085 (C1 control)
  EXPECT_FALSE(is_valid_user_id("\xc0\x80"));          // overlong NUL
  EXPECT_FALSE(is_valid_user_id("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_user_id("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_user_id("\xe2\x82"));          // truncated
  EXPECT_FALSE(is_valid_user_id("\xff"));
  EXPECT_FALSE(is_valid_user_id(std::string(kMaxUserIdBytes + 1, 'u')));
}

TEST(TenantStorageName, IsTheIdForValidIdsAndRefusesOthers) {
  EXPECT_EQ(tenant_storage_name("acme"), "acme");
  EXPECT_EQ(tenant_storage_name("x-2e2e"), "x-2e2e");
  // Ids that earlier storage schemes escaped into names of other, legal ids: ".."
  // became "x-2e2e" in the file sandbox, and a long id became "t-" + hash in the
  // artifact store. Now they have no storage name at all.
  for (const std::string& id : {".."s, "."s, "a/b"s, "ab\0c"s, std::string(200, 'a'), ""s}) {
    EXPECT_THROW(tenant_storage_name(id), std::invalid_argument) << id;
  }
}

TEST(TenantStorageName, IsInjectiveAndEveryNameIsOnePathComponent) {
  // Random ids over the tenant alphabet plus the characters that broke earlier
  // schemes: every id that gets a name keeps it to itself.
  const std::string alphabet = "ab.-_x2e/\\%\0 "s;
  std::mt19937 rng(7);
  std::set<std::string> ids;
  std::set<std::string> names;
  for (int n = 0; n < 20000; ++n) {
    std::string id(1 + rng() % 6, 'a');
    for (char& c : id) c = alphabet[rng() % alphabet.size()];
    if (!ids.insert(id).second) continue;
    std::string name;
    try {
      name = tenant_storage_name(id);
    } catch (const std::invalid_argument&) {
      EXPECT_FALSE(is_valid_tenant_id(id));
      continue;
    }
    EXPECT_TRUE(names.insert(name).second) << "two ids share the name " << name;
    EXPECT_NE(name, ".");
    EXPECT_NE(name, "..");
    EXPECT_EQ(name.find_first_of("/\\"s + '\0'), std::string::npos) << name;
  }
  EXPECT_GT(names.size(), 100u);
}

}  // namespace
}  // namespace streamer
