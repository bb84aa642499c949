#include "gateway/upload_limiter.hpp"

#include <gtest/gtest.h>

#include <optional>

namespace streamer {
namespace {

TEST(UploadLimiter, CountsPerUserAndPerAddress) {
  UploadLimiter limiter(2, 3);
  auto a = limiter.acquire("t1", "alice", "10.0.0.1");
  auto b = limiter.acquire("t1", "alice", "10.0.0.2");
  ASSERT_TRUE(std::holds_alternative<UploadLimiter::Slot>(a));
  ASSERT_TRUE(std::holds_alternative<UploadLimiter::Slot>(b));
  auto third = limiter.acquire("t1", "alice", "10.0.0.3");
  ASSERT_TRUE(std::holds_alternative<UploadLimiter::Full>(third));
  EXPECT_EQ(std::get<UploadLimiter::Full>(third), UploadLimiter::Full::kUser);
  // The same user name in another tenant is another identity.
  auto other_tenant = limiter.acquire("t2", "alice", "10.0.0.1");
  EXPECT_TRUE(std::holds_alternative<UploadLimiter::Slot>(other_tenant));
  auto bob = limiter.acquire("t1", "bob", "10.0.0.1");
  EXPECT_TRUE(std::holds_alternative<UploadLimiter::Slot>(bob));
  EXPECT_EQ(limiter.running_from("10.0.0.1"), 3);
  auto carol = limiter.acquire("t1", "carol", "10.0.0.1");
  ASSERT_TRUE(std::holds_alternative<UploadLimiter::Full>(carol));
  EXPECT_EQ(std::get<UploadLimiter::Full>(carol), UploadLimiter::Full::kAddress);
}

TEST(UploadLimiter, SlotsGiveTheirPlaceBack) {
  UploadLimiter limiter(1, 1);
  {
    auto a = limiter.acquire("t1", "alice", "ip");
    ASSERT_TRUE(std::holds_alternative<UploadLimiter::Slot>(a));
    std::optional<UploadLimiter::Slot> moved(std::move(std::get<UploadLimiter::Slot>(a)));
    EXPECT_TRUE(std::holds_alternative<UploadLimiter::Full>(limiter.acquire("t1", "alice", "ip")));
  }
  EXPECT_EQ(limiter.running_from("ip"), 0);
  EXPECT_TRUE(std::holds_alternative<UploadLimiter::Slot>(limiter.acquire("t1", "alice", "ip")));
}

TEST(UploadLimiter, TenantAndUserBoundaryCannotCollide) {
  UploadLimiter limiter(1, 10);
  auto a = limiter.acquire("ab", "c", "ip");
  auto b = limiter.acquire("a", "bc", "ip");
  EXPECT_TRUE(std::holds_alternative<UploadLimiter::Slot>(a));
  EXPECT_TRUE(std::holds_alternative<UploadLimiter::Slot>(b));
}

}  // namespace
}  // namespace streamer
