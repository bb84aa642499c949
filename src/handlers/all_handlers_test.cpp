// The server's handler list: every action registered once, each with its declared mode.
#include "handlers/all_handlers.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {

TEST(AllHandlers, RegistersEveryActionWithItsDeclaredMode) {
  HandlerRegistry registry;
  register_all_handlers(registry, {});
  EXPECT_EQ(registry.names(),
            (std::vector<std::string>{"echo", "generate_report", "health", "process_data",
                                      "stream_append", "word_count"}));
  EXPECT_TRUE(registry.find("health")->runs_inline());
  EXPECT_TRUE(registry.find("echo")->runs_inline());
  EXPECT_FALSE(registry.find("stream_append")->is_async());
  EXPECT_TRUE(registry.find("generate_report")->is_async());
  EXPECT_TRUE(registry.find("process_data")->is_async());
  EXPECT_TRUE(registry.find("word_count")->is_async());
}

TEST(AllHandlers, DelayOnlyWhenEnabledAndEchoOnThePoolWithFaultInjection) {
  HandlerRegistry registry;
  HandlerOptions options;
  options.enable_delay = true;
  options.fault_injection = true;
  register_all_handlers(registry, options);
  ASSERT_NE(registry.find("delay"), nullptr);
  EXPECT_TRUE(registry.find("delay")->is_async());
  EXPECT_FALSE(registry.find("echo")->runs_inline());
}

TEST(AllHandlers, RegisteringTwiceIsRefused) {
  HandlerRegistry registry;
  register_all_handlers(registry, {});
  EXPECT_THROW(register_all_handlers(registry, {}), std::invalid_argument);
}

}  // namespace
}  // namespace streamer
