#pragma once
// Client child processes of the many-connection scenarios (idle, subscribers): each is
// this binary run as a worker scenario, talking to the parent over pipes.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace bench {

// Spawned child with a pipe to its stdin (we hold the write end) and from its stdout.
struct Child {
  pid_t pid = -1;
  int to_child = -1;
  int from_child = -1;
};

// Starts `exe args...` with piped stdin/stdout; stderr is inherited.
Child spawn_child(const char* exe, const std::vector<std::string>& args);

// Reads the child's "READY held failed" line, waiting at most `timeout_s`.
bool read_ready(int fd, double timeout_s, long& held, long& failed);

// Lines from `fd` until one equals `end` (not returned), EOF, or `timeout_s`.
std::vector<std::string> read_lines_until(int fd, const std::string& end, double timeout_s);

// The child's side of the handshake: waits until `settled()` holds or `limit` passes,
// prints "READY <ok> <connections - ok>" with ok = `ok()`, then blocks until the parent
// closes the child's stdin.
void announce_ready_and_hold(long connections, std::chrono::seconds limit,
                             const std::function<bool()>& settled, const std::function<long()>& ok);

// Waits up to 10 s for each child to exit (then kills it) and closes its pipe.
void reap(std::vector<Child>& children);

}  // namespace bench
