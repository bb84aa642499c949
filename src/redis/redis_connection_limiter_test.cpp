#include "redis/redis_connection_limiter.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "redis/test_redis_server.hpp"

namespace streamer::redis {
namespace {

TEST(RedisConnectionLimiter, CountsOneWindowAcrossEveryGateway) {
  TestRedisServer server;
  ConnectionRateLimiter local_a(1000), local_b(1000);
  RedisConnectionLimiter a(parse_redis_url(server.url()), 5, local_a);
  RedisConnectionLimiter b(parse_redis_url(server.url()), 5, local_b);
  const auto now = std::chrono::steady_clock::now();
  int admitted = 0;
  for (int i = 0; i < 12; ++i) admitted += (i % 2 ? a : b).admit("203.0.113.7", now) == 0;
  EXPECT_EQ(admitted, 5);
  const auto wait = a.admit("203.0.113.7", now);
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, 60'000);
  EXPECT_EQ(a.admit("198.51.100.1", now), 0);  // another address has its own window
  EXPECT_EQ(a.fallbacks(), 0u);
}

TEST(RedisConnectionLimiter, TheWindowSlides) {
  TestRedisServer server;
  ConnectionRateLimiter local(1000);
  RedisConnectionLimiter l(parse_redis_url(server.url()), 2, local,
                           {.window = std::chrono::milliseconds(300)});
  const auto now = std::chrono::steady_clock::now();
  EXPECT_EQ(l.admit("a", now), 0);
  EXPECT_EQ(l.admit("a", now), 0);
  EXPECT_GT(l.admit("a", now), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  EXPECT_EQ(l.admit("a", now), 0);
}

TEST(RedisConnectionLimiter, WithoutRedisTheLocalLimiterDecides) {
  ConnectionRateLimiter local(3);
  RedisConnectionLimiter l(
      parse_redis_url("redis://127.0.0.1:" + std::to_string(free_loopback_port())), 100, local);
  const auto now = std::chrono::steady_clock::now();
  int admitted = 0;
  for (int i = 0; i < 5; ++i) admitted += l.admit("a", now) == 0;
  EXPECT_EQ(admitted, 3);
  EXPECT_EQ(l.fallbacks(), 5u);
}

// A TCP listener on loopback that never accepts nor answers: connects succeed (the
// kernel's backlog) and every command then waits for its timeout.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 64) != 0)
      throw std::runtime_error("cannot listen");
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

std::chrono::milliseconds elapsed_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t);
}

TEST(RedisConnectionLimiter, AnUnansweringRedisNeverHoldsTheCallerLongerThanTheAnswerWait) {
  SilentServer silent;
  ConnectionRateLimiter local(3);
  RedisConnectionLimiter l(parse_redis_url("redis://127.0.0.1:" + std::to_string(silent.port())),
                           100, local, {.answer_wait = std::chrono::milliseconds(20)});
  const auto now = std::chrono::steady_clock::now();
  int admitted = 0;
  for (int i = 0; i < 5; ++i) {
    const auto began = std::chrono::steady_clock::now();
    admitted += l.admit("a", now) == 0;
    // The Redis command itself waits 500 ms for its timeout; the caller does not.
    EXPECT_LT(elapsed_since(began), std::chrono::milliseconds(150)) << "admit " << i;
  }
  EXPECT_EQ(admitted, 3);  // the local bound decided every one
  EXPECT_EQ(l.fallbacks(), 5u);
}

TEST(RedisConnectionLimiter, AnUnreachableSentinelNeverHoldsTheCaller) {
  // Sentinel resolution retries with pauses for seconds; that happens off the caller.
  ConnectionRateLimiter local(100);
  const int a = free_loopback_port(), b = free_loopback_port();
  RedisConnectionLimiter l(parse_redis_url("redis-sentinel://127.0.0.1:" + std::to_string(a) +
                                           ",127.0.0.1:" + std::to_string(b) + "/mymaster"),
                           100, local);
  const auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(l.admit("a", began), 0);
  EXPECT_LT(elapsed_since(began), std::chrono::milliseconds(150));
  EXPECT_EQ(l.fallbacks(), 50u);
}

TEST(RedisConnectionLimiter, CountsInRedisAgainOnceItIsBack) {
  TestRedisServer server;
  ConnectionRateLimiter local(1000);
  RedisConnectionLimiter l(parse_redis_url(server.url()), 2, local,
                           {.retry_interval = std::chrono::milliseconds(50)});
  const auto now = std::chrono::steady_clock::now();
  EXPECT_EQ(l.admit("a", now), 0);
  // Redis stops answering for 1.5 s (longer than the limiter's 500 ms command timeout).
  RedisClient admin(parse_redis_url(server.url()));
  admin.command({"CLIENT", "PAUSE", "1500", "ALL"});
  const auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(l.admit("b", now), 0);  // the local bound decides
  EXPECT_LT(elapsed_since(began), std::chrono::milliseconds(400));
  EXPECT_GE(l.fallbacks(), 10u);
  // Once Redis answers again, its window of 2 per address decides again.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  const auto fallbacks_before = l.fallbacks();
  int refused = 0;
  while (std::chrono::steady_clock::now() < deadline && refused == 0) {
    refused += l.admit("c", now) != 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(refused, 1);
  EXPECT_GT(l.fallbacks(), fallbacks_before - 1);
}

}  // namespace
}  // namespace streamer::redis
