#include "app/deployment_mode.hpp"

#include <gtest/gtest.h>

namespace streamer::app {
namespace {

std::string refusal(ProcessRole role, int workers, bool shared) {
  try {
    check_event_delivery(role, workers, shared);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(DeploymentMode, OneProcessWithItsOwnWorkersNeedsNoSharedBus) {
  EXPECT_EQ(refusal(ProcessRole::kServe, 4, false), "");
  EXPECT_EQ(refusal(ProcessRole::kServe, 4, true), "");
}

TEST(DeploymentMode, AWorkerProcessRefusesWithoutASharedBus) {
  auto why = refusal(ProcessRole::kWorker, 4, false);
  EXPECT_NE(why.find("--store redis://"), std::string::npos) << why;
  EXPECT_EQ(refusal(ProcessRole::kWorker, 4, true), "");
  EXPECT_NE(refusal(ProcessRole::kWorker, 0, true), "");  // a worker with no workers
}

TEST(DeploymentMode, AGatewayOnlyRefusesWithoutASharedBus) {
  auto why = refusal(ProcessRole::kServe, 0, false);
  EXPECT_NE(why.find("--workers 0"), std::string::npos) << why;
  EXPECT_EQ(refusal(ProcessRole::kServe, 0, true), "");
}

TEST(DeploymentMode, SharedWorkNeedsAConfiguredArtifactSecret) {
  EXPECT_NO_THROW(check_shared_artifacts(false, false));
  EXPECT_NO_THROW(check_shared_artifacts(true, true));
  EXPECT_THROW(check_shared_artifacts(true, false), std::invalid_argument);
}

}  // namespace
}  // namespace streamer::app
