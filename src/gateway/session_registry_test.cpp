#include "gateway/session_registry.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace streamer {
namespace {
using namespace std::chrono_literals;

struct FakeSession : LiveSession {
  int wakes = 0;
  int closes = 0;
  void close(unsigned short, std::string) override { ++closes; }
  void wake() override { ++wakes; }
};

TEST(SessionRegistry, WakesOnlyDueSessions) {
  SessionRegistry reg;
  auto a = std::make_shared<FakeSession>();
  auto b = std::make_shared<FakeSession>();
  const auto now = std::chrono::steady_clock::now();
  a->set_due(now - 1s);
  b->set_due(now + 1s);
  reg.add(a);
  reg.add(b);
  reg.wake_due(now);
  EXPECT_EQ(a->wakes, 1);
  EXPECT_EQ(b->wakes, 0);
  reg.close_all(1012, "bye");
  EXPECT_EQ(a->closes + b->closes, 2);
}

TEST(SessionRegistry, RemoveKeepsTheOthers) {
  SessionRegistry reg;
  std::vector<std::shared_ptr<FakeSession>> s;
  for (int i = 0; i < 5; ++i) {
    s.push_back(std::make_shared<FakeSession>());
    s.back()->set_due(std::chrono::steady_clock::time_point{});
    reg.add(s.back());
  }
  reg.remove(s[1].get());
  reg.remove(s[1].get());  // twice: no-op
  reg.remove(s[4].get());  // the last one
  reg.remove(s[0].get());
  EXPECT_EQ(reg.size(), 2u);
  reg.wake_due(std::chrono::steady_clock::now());
  EXPECT_EQ(s[2]->wakes + s[3]->wakes, 2);
  EXPECT_EQ(s[0]->wakes + s[1]->wakes + s[4]->wakes, 0);
}

TEST(SessionRegistry, WaitEmptyReturnsWhenTheLastSessionLeaves) {
  SessionRegistry reg;
  auto a = std::make_shared<FakeSession>();
  reg.add(a);
  EXPECT_FALSE(reg.wait_empty(std::chrono::steady_clock::now() + 20ms));  // still there
  std::thread leaver([&] {
    std::this_thread::sleep_for(50ms);
    reg.remove(a.get());
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(reg.wait_empty(start + 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // woken, not timed out
  leaver.join();
  EXPECT_TRUE(reg.wait_empty(std::chrono::steady_clock::now()));  // empty: at once
}

}  // namespace
}  // namespace streamer
