#include "redis/test_redis_server.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "redis/redis_client.hpp"

extern char** environ;

namespace streamer::redis {

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

TestRedisServer::TestRedisServer(std::vector<std::string> extra_args)
    : TestRedisServer(std::move(extra_args), "") {}

TestRedisServer TestRedisServer::sentinel_for(int primary_port, const std::string& master_name) {
  return TestRedisServer({"--sentinel"}, "sentinel monitor " + master_name + " 127.0.0.1 " +
                                             std::to_string(primary_port) +
                                             " 1\nsentinel down-after-milliseconds " + master_name +
                                             " 1000\n");
}

TestRedisServer::TestRedisServer(TestRedisServer&& other) noexcept
    : port_(other.port_),
      pid_(other.pid_),
      dir_(std::move(other.dir_)),
      config_text_(std::move(other.config_text_)) {
  other.pid_ = -1;
  other.dir_.clear();
}

TestRedisServer::TestRedisServer(std::vector<std::string> extra_args, std::string config_text)
    : config_text_(std::move(config_text)) {
  static int counter = 0;
  dir_ = std::filesystem::temp_directory_path() /
         ("streamer-test-redis-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(dir_);
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (start_on(free_loopback_port(), extra_args)) return;
  }
  std::filesystem::remove_all(dir_);
  throw std::runtime_error("cannot start redis-server (is it installed?)");
}

TestRedisServer::~TestRedisServer() {
  stop();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string TestRedisServer::url(int db) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

bool TestRedisServer::start_on(int port, const std::vector<std::string>& extra_args) {
  std::vector<std::string> args{"redis-server"};
  if (!config_text_.empty()) {
    auto conf = dir_ / "redis.conf";
    std::FILE* f = std::fopen(conf.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + conf.string());
    std::fputs(config_text_.c_str(), f);
    std::fclose(f);
    args.push_back(conf.string());
  }
  std::vector<std::string> common{"--port",       std::to_string(port),
                                  "--bind",       "127.0.0.1",
                                  "--save",       "",
                                  "--appendonly", "no",
                                  "--dir",        dir_.string(),
                                  "--logfile",    (dir_ / "redis.log").string()};
  args.insert(args.end(), common.begin(), common.end());
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
    throw std::runtime_error("cannot run redis-server (is it installed?)");
  }
  pid_ = pid;
  port_ = port;
  RedisClient probe(parse_redis_url(url()),
                    {std::chrono::milliseconds(200), std::chrono::milliseconds(500)});
  for (int i = 0; i < 250; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: most likely the port was taken
      pid_ = -1;
      return false;
    }
    try {
      if (probe.command({"PING"}).as_string() == "PONG") return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop(true);
  return false;
}

void TestRedisServer::stop(bool hard) {
  if (pid_ <= 0) return;
  ::kill(pid_, hard ? SIGKILL : SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace streamer::redis
