// One info log line per finished sync request: `request_finished` as for async requests,
// with mode "sync" (request id, tenant, user, action, status "succeeded" or "failed",
// error code, duration_ms, trace id; never the token or the payload). A
// successful request is logged once in every `success_every` (1: each one, 0: none),
// so a server answering tens of thousands of `health` calls a second can keep its log
// small; a request that ended in an error is always logged.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace streamer {

class SyncRequestLog {
 public:
  explicit SyncRequestLog(std::uint32_t success_every) : success_every_(success_every) {}

  // Logs the request's outcome ("success" or its error code) if it is due: every error,
  // and the first success of each run of `success_every`. Thread-safe.
  void finished(std::string_view request_id, std::string_view tenant, std::string_view user,
                std::string_view action, std::string_view outcome, double seconds,
                std::string_view trace_id);

  // Whether the next success is logged (advances the sampling count); for tests.
  bool take_success_turn();

 private:
  const std::uint32_t success_every_;
  std::atomic<std::uint64_t> successes_{0};
};

}  // namespace streamer
