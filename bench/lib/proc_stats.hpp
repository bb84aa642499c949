#pragma once
// Resource usage of another process on this machine, read from /proc.
#include <sys/types.h>

namespace bench {

// User + system CPU seconds consumed so far by `pid` (all threads); -1 if unreadable.
double process_cpu_seconds(pid_t pid);
// Resident set size of `pid` in KiB (VmRSS); -1 if unreadable.
long process_rss_kib(pid_t pid);
// Number of open file descriptors of `pid`; -1 if unreadable.
long process_open_fds(pid_t pid);

}  // namespace bench
