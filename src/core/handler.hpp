// The handler API: what a built-in or user handler implements, and what it gets
// while it runs. Handlers are plain C++ classes registered in a HandlerRegistry.
#pragma once

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/error_code.hpp"

namespace streamer {

class ArtifactStore;

// The caller, as proven by a verified JWT.
struct Identity {
  std::string user_id;    // claim "sub"
  std::string tenant_id;  // claim "tenant_id"
  std::vector<std::string> permissions;

  bool has_permission(std::string_view permission) const;
};

// A typed failure. Throw it from validate() or run(); it becomes an `error` envelope
// with this code, message and details. `retryable` defaults to the seed's table.
class HandlerError : public std::runtime_error {
 public:
  HandlerError(ErrorCode code, const std::string& message, boost::json::object details = {},
               std::optional<bool> retryable = std::nullopt);

  // VALIDATION_ERROR with the seed's details shape {field, expected, received}.
  static HandlerError validation(std::string_view field, std::string_view expected,
                                 const boost::json::value& received, const std::string& message);

  ErrorCode code() const noexcept { return code_; }
  const boost::json::object& details() const noexcept { return details_; }
  bool retryable() const noexcept { return retryable_; }

 private:
  ErrorCode code_;
  boost::json::object details_;
  bool retryable_;
};

// Cooperative cancellation. Set by a `cancel` request, the handler's time limit or
// shutdown; the first reason wins. Handlers poll cancelled() or call
// throw_if_cancelled() between units of work.
class CancelToken {
 public:
  enum class Reason { kNone, kCancelled, kTimedOut, kShutdown };

  bool cancelled() const noexcept { return reason_.load(std::memory_order_acquire) != Reason::kNone; }
  Reason reason() const noexcept { return reason_.load(std::memory_order_acquire); }
  // Requests cancellation; returns true if this call set the reason.
  bool cancel(Reason reason) noexcept;
  // Throws OperationCancelled when cancelled.
  void throw_if_cancelled() const;
  // Blocks up to `duration` or until cancelled. Returns false if cancelled. For
  // handlers whose work is waiting (the diagnostic `delay`), never to imitate work.
  bool wait_for(std::chrono::nanoseconds duration) const;

 private:
  std::atomic<Reason> reason_{Reason::kNone};
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
};

// Thrown by CancelToken::throw_if_cancelled; the runner maps the token's reason to
// CANCELLED, TIMEOUT or (shutdown) a silent re-queue.
struct OperationCancelled : std::exception {
  const char* what() const noexcept override { return "operation cancelled"; }
};

// Progress sink given to a running handler. Implementations clamp percent to
// [0, 100], keep it monotonic, and coalesce bursts; report() is cheap to call often.
class Progress {
 public:
  virtual ~Progress() = default;
  // metadata: the seed's current_step, records_processed, records_total, ...
  virtual void report(double percent, std::string_view message, boost::json::object metadata = {}) = 0;
};

// Shared services available to handlers.
struct HandlerEnvironment {
  std::filesystem::path data_dir;        // --data-dir
  ArtifactStore* artifacts = nullptr;    // generated files, signed URLs
  // Per-handler settings from the TOML config's [handlers.<action>] tables, as JSON
  // (e.g. settings["generate_report"]["database"]). Empty when not configured.
  boost::json::object settings;
};

// Everything a running handler may look at.
struct JobContext {
  const Identity& identity;
  std::string request_id;
  std::string trace_id;
  int attempt = 1;  // 1-based; >1 means an earlier attempt failed or its worker died
  Progress& progress;
  const CancelToken& cancel;
  const HandlerEnvironment& env;
};

// What run() returns. success=false marks a partial outcome (seed `result.success`).
struct HandlerResult {
  boost::json::value data;
  bool success = true;
};

// Where a sync handler runs. kPool: on the shared sync thread pool, watched for its
// time limit (the default; anything that touches disk, locks or the network).
// kInline: on the I/O thread that read the request, at once, with no pool hop. Only
// for handlers that never block and whose cost is at most linear in the payload, and
// microseconds for a small one (health, echo): an inline handler holds up every other
// connection on that thread while it runs, and its time limit cannot interrupt it.
// A request larger than kInlineMaxFrameBytes still goes to the pool (a big payload
// is not microseconds of work even when copying it is all a handler does). A run
// longer than kInlineBudget is logged (rate-limited) and counted in
// streamer_inline_overruns_total. Async handlers ignore it.
enum class Execution { kPool, kInline };

inline constexpr std::chrono::milliseconds kInlineBudget{5};
inline constexpr std::size_t kInlineMaxFrameBytes = 64 * 1024;

// Static description of a handler, used by the router and the job runner.
struct HandlerSpec {
  std::string name;                                 // the `action`
  std::chrono::milliseconds estimated_duration{0};  // reported in `queued`; > 5 s means async
  std::string permission;                           // required permission; empty = none
  std::chrono::milliseconds time_limit{30'000};     // exceeded -> TIMEOUT
  int max_attempts = 3;                             // retryable failures, async only
  bool always_async = false;                        // async whatever the estimate
  Execution execution = Execution::kPool;           // sync only: see Execution
};

inline constexpr std::chrono::milliseconds kSyncThreshold{5'000};

class Handler {
 public:
  explicit Handler(HandlerSpec spec) : spec_(std::move(spec)) {}
  virtual ~Handler() = default;
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;

  const HandlerSpec& spec() const noexcept { return spec_; }
  bool is_async() const noexcept {
    return spec_.always_async || spec_.estimated_duration > kSyncThreshold;
  }
  // A sync handler declared Execution::kInline (a request of it runs inline when its
  // frame is at most kInlineMaxFrameBytes).
  bool runs_inline() const noexcept { return !is_async() && spec_.execution == Execution::kInline; }

  // Cheap, pure check of the payload, run before a request is accepted (and before
  // an async one is queued). Throw HandlerError (usually validation()) to reject.
  virtual void validate(const boost::json::object& payload) const { (void)payload; }

  // Does the work. Throw HandlerError for typed failures; any other exception is an
  // INTERNAL_ERROR that async requests retry with backoff up to max_attempts.
  virtual HandlerResult run(const boost::json::object& payload, JobContext& ctx) = 0;

 private:
  HandlerSpec spec_;
};

}  // namespace streamer
