#include "core/handler.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace streamer {
namespace {

TEST(Identity, PermissionCheck) {
  Identity id{"u", "t", {"read"}};
  EXPECT_TRUE(id.has_permission(""));
  EXPECT_TRUE(id.has_permission("read"));
  EXPECT_FALSE(id.has_permission("write"));
}

TEST(CancelToken, FirstReasonWinsAndWakesWaiters) {
  CancelToken token;
  EXPECT_FALSE(token.cancelled());
  std::thread t([&] { token.cancel(CancelToken::Reason::kTimedOut); });
  EXPECT_FALSE(token.wait_for(std::chrono::seconds(10)));  // woken early by cancel
  t.join();
  EXPECT_FALSE(token.cancel(CancelToken::Reason::kCancelled));
  EXPECT_EQ(token.reason(), CancelToken::Reason::kTimedOut);
  EXPECT_THROW(token.throw_if_cancelled(), OperationCancelled);
}

TEST(CancelToken, WaitForElapsesWhenNotCancelled) {
  CancelToken token;
  EXPECT_TRUE(token.wait_for(std::chrono::milliseconds(5)));
}

TEST(HandlerError, DefaultsRetryableFromCode) {
  EXPECT_FALSE(HandlerError(ErrorCode::kNotFound, "x").retryable());
  EXPECT_TRUE(HandlerError(ErrorCode::kInternalError, "x").retryable());
  EXPECT_FALSE(HandlerError(ErrorCode::kInternalError, "x", {}, false).retryable());
}

}  // namespace
}  // namespace streamer
