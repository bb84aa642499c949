#include "scenarios/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "lib/client_pool.hpp"

namespace bench {

// Starts `exe args...` with piped stdin/stdout; stderr is inherited.
Child spawn_child(const char* exe, const std::vector<std::string>& args) {
  int in_pipe[2], out_pipe[2];
  // Close-on-exec: a later child must not inherit this one's stdin (it would never see EOF).
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  Child ch;
  ch.pid = fork();
  if (ch.pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    close(in_pipe[1]);
    close(out_pipe[0]);
    std::vector<char*> argv{const_cast<char*>(exe)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(exe, argv.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  ch.to_child = in_pipe[1];
  ch.from_child = out_pipe[0];
  return ch;
}

// Reads the child's "READY held failed" line, waiting at most `timeout_s`.
bool read_ready(int fd, double timeout_s, long& held, long& failed) {
  std::string line;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char ch;
    if (read(fd, &ch, 1) != 1) return false;
    if (ch == '\n') return std::sscanf(line.c_str(), "READY %ld %ld", &held, &failed) == 2;
    line += ch;
  }
  return false;
}

std::vector<std::string> read_lines_until(int fd, const std::string& end, double timeout_s) {
  std::vector<std::string> lines;
  std::string line;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    const auto n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] != '\n') {
        line += buf[i];
        continue;
      }
      if (line == end) return lines;
      lines.push_back(std::move(line));
      line.clear();
    }
  }
  return lines;
}

void reap(std::vector<Child>& children) {
  for (auto& ch : children) {
    int status = 0;
    for (int i = 0; i < 100 && waitpid(ch.pid, &status, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (waitpid(ch.pid, &status, WNOHANG) == 0) {
      kill(ch.pid, SIGKILL);
      waitpid(ch.pid, &status, 0);
    }
    close(ch.from_child);
  }
}

void announce_ready_and_hold(long connections, std::chrono::seconds limit,
                             const std::function<bool()>& settled,
                             const std::function<long()>& ok) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline && !settled())
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const long held = ok();
  std::printf("READY %ld %ld\n", held, connections - held);
  std::fflush(stdout);
  char byte;
  while (read(0, &byte, 1) > 0) {
  }  // until the parent closes our stdin
}

}  // namespace bench
