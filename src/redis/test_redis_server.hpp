// For tests only: a throwaway redis-server on a free loopback port, with no persistence,
// stopped (SIGTERM, then reaped) when the object goes away.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace streamer::redis {

class TestRedisServer {
 public:
  // Starts `redis-server` on 127.0.0.1 with `extra_args` appended (e.g.
  // {"--maxmemory-policy", "allkeys-lru"}) and waits until it answers PING. Throws
  // std::runtime_error if it cannot start (not installed, or no port after a few tries).
  explicit TestRedisServer(std::vector<std::string> extra_args = {});
  // A Sentinel (redis-server --sentinel) watching the primary at 127.0.0.1:primary_port
  // under `master_name`, with a quorum of 1 and fast failure detection.
  static TestRedisServer sentinel_for(int primary_port, const std::string& master_name);
  ~TestRedisServer();
  TestRedisServer(const TestRedisServer&) = delete;
  TestRedisServer& operator=(const TestRedisServer&) = delete;
  TestRedisServer(TestRedisServer&& other) noexcept;

  int port() const { return port_; }
  std::string url(int db = 0) const;  // redis://127.0.0.1:PORT/DB
  pid_t pid() const { return pid_; }
  // Stops the server now (SIGTERM, or SIGKILL when `hard`); idempotent.
  void stop(bool hard = false);

 private:
  TestRedisServer(std::vector<std::string> extra_args, std::string config_text);
  bool start_on(int port, const std::vector<std::string>& extra_args);

  int port_ = 0;
  pid_t pid_ = -1;
  std::filesystem::path dir_;
  std::string config_text_;  // written to dir_/redis.conf and given first, when not empty
};

// A free TCP port on 127.0.0.1 at the time of the call.
int free_loopback_port();

}  // namespace streamer::redis
