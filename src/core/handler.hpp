// The handler API: what a built-in or user handler implements, and what it gets
// while it runs. Handlers are plain C++ classes registered in a HandlerRegistry.
#pragma once

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
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
  // claim "actions": the remote actions a worker token may serve (empty when absent).
  std::vector<std::string> actions{};

  bool has_permission(std::string_view permission) const;
};

// A typed failure. Throw it from parse() or run(); it becomes an `error` envelope
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

  bool cancelled() const noexcept {
    return reason_.load(std::memory_order_acquire) != Reason::kNone;
  }
  Reason reason() const noexcept { return reason_.load(std::memory_order_acquire); }
  // Requests cancellation; returns true if this call set the reason.
  bool cancel(Reason reason) noexcept;
  // Throws OperationCancelled when cancelled.
  void throw_if_cancelled() const;
  // Blocks up to `duration` or until cancelled. Returns false if cancelled. For
  // handlers whose work is waiting (the diagnostic `delay`), never to imitate work.
  bool wait_for(std::chrono::nanoseconds duration) const;
  // Sets the one wake-up a waiter without a thread needs: `wake` is called once, on the
  // cancelling thread, when the token is cancelled while it is set (never after
  // set_wake(nullptr) has returned). Called at once if the token is already cancelled.
  // It must be quick and must not call back into this token (post to an executor).
  void set_wake(std::function<void()> wake) const;

 private:
  std::atomic<Reason> reason_{Reason::kNone};
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  mutable std::function<void()> wake_;  // guarded by mutex_
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
  virtual void report(double percent, std::string_view message,
                      boost::json::object metadata = {}) = 0;
};

// Shared services available to handlers.
struct HandlerEnvironment {
  std::filesystem::path data_dir;      // --data-dir
  ArtifactStore* artifacts = nullptr;  // generated files, signed URLs
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

// How a request of a handler runs, declared by the handler (never inferred from its
// estimated duration, which is only reported to clients in `queued`).
//
// kAsync: durable. The request is stored before `queued` is answered, runs on a
// worker, reports progress, is retried with backoff on retryable failures (up to
// max_attempts) and survives a restart; it ends with a `result` or `error`.
//
// kPool and kInline: sync. The request answers once with a `response` or `error`,
// nothing is stored, nothing is retried.
// kPool: on the shared sync thread pool, watched for its time limit (the default;
// anything that touches disk, locks or the network).
// kInline: on the I/O thread that read the request, at once, with no pool hop. Only
// for handlers that never block and whose cost is at most linear in the payload, and
// microseconds for a small one (health, echo): an inline handler holds up every other
// connection on that thread while it runs, and its time limit cannot interrupt it.
// A request larger than kInlineMaxFrameBytes still goes to the pool (a big payload
// is not microseconds of work even when copying it is all a handler does). A run
// longer than kInlineBudget is logged (rate-limited) and counted in
// streamer_inline_overruns_total.
enum class Execution { kPool, kInline, kAsync };

inline constexpr std::chrono::milliseconds kInlineBudget{5};
inline constexpr std::size_t kInlineMaxFrameBytes = 64 * 1024;

// Static description of a handler, used by the router and the job runner.
struct HandlerSpec {
  std::string name;                                 // the `action`
  std::chrono::milliseconds estimated_duration{0};  // reported in `queued`; nothing else
  std::string permission;                           // required permission; empty = none
  std::chrono::milliseconds time_limit{30'000};     // exceeded -> TIMEOUT
  int max_attempts = 3;                             // retryable failures, async only
  Execution execution = Execution::kPool;           // sync (kPool, kInline) or kAsync
  // Async only: the job store lane its jobs go to. "" : this process's worker pools run
  // them; any other lane is claimed only by that lane's dispatcher (remote workers).
  std::string lane{};
};

class Handler;

// A payload after its handler's parse_payload(): the handler's typed request, opaque
// to the service and the workers, which hand it back to the same handler's
// run_parsed(). Immutable and shared, so copies are cheap; empty when default-built.
class ParsedRequest {
 public:
  ParsedRequest() = default;
  ParsedRequest(std::shared_ptr<const void> value, const Handler* parsed_by)
      : value_(std::move(value)), parsed_by_(parsed_by) {}

  explicit operator bool() const noexcept { return value_ != nullptr; }
  // The request as `T`, when `reader` is the handler that parsed it; throws
  // std::logic_error otherwise (a request handed to the wrong handler, or none).
  template <class T>
  const T& as(const Handler* reader) const {
    if (!value_ || reader != parsed_by_)
      throw std::logic_error("request not parsed by this handler");
    return *static_cast<const T*>(value_.get());
  }

 private:
  std::shared_ptr<const void> value_;
  const Handler* parsed_by_ = nullptr;
};

// The type-erased handler the registry, the service and the workers use. Write a
// handler as a TypedHandler<Request> (or a JsonHandler), not directly as this.
class Handler {
 public:
  explicit Handler(HandlerSpec spec) : spec_(std::move(spec)) {}
  virtual ~Handler() = default;
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;

  const HandlerSpec& spec() const noexcept { return spec_; }
  // Stored, queued and retried (Execution::kAsync).
  bool is_async() const noexcept { return spec_.execution == Execution::kAsync; }
  // A sync handler declared Execution::kInline (a request of it runs inline when its
  // frame is at most kInlineMaxFrameBytes).
  bool runs_inline() const noexcept { return spec_.execution == Execution::kInline; }

  // Checks `payload` and turns it into the handler's request, before the request is
  // accepted (so a bad payload is answered at once, and never queued). Cheap and pure.
  // Throws HandlerError (usually HandlerError::validation) to reject it.
  virtual ParsedRequest parse_payload(const boost::json::object& payload) const = 0;

  // Does the work on a request this handler's parse_payload() returned. Throw
  // HandlerError for typed failures; any other exception is an INTERNAL_ERROR that
  // async requests retry with backoff up to max_attempts.
  virtual HandlerResult run_parsed(const ParsedRequest& request, JobContext& ctx) = 0;

 private:
  HandlerSpec spec_;
};

// What a handler implements: parse() the JSON payload once into a `Request`, then
// run() that request. Within one process a request is parsed once, when it arrives;
// an async request that runs again in another process (after a restart, or on a
// `worker`) is parsed again there from its stored payload, so parse() must give the
// same answer for the same payload (no clock, disk or network: those belong in run()).
template <class Request>
class TypedHandler : public Handler {
 public:
  using Handler::Handler;

  // Validates `payload` and returns the request; throws HandlerError::validation
  // (details {field, expected, received}) for the first problem found.
  virtual Request parse(const boost::json::object& payload) const = 0;
  // Runs on a worker thread (async), the sync pool or the I/O thread (see Execution),
  // concurrently with other requests: it must be thread-safe.
  virtual HandlerResult run(const Request& request, JobContext& ctx) = 0;

  ParsedRequest parse_payload(const boost::json::object& payload) const final {
    return ParsedRequest(std::make_shared<const Request>(parse(payload)), this);
  }
  HandlerResult run_parsed(const ParsedRequest& request, JobContext& ctx) final {
    return run(request.as<Request>(this), ctx);
  }
};

// A handler whose request is the payload object itself, unchecked unless parse() is
// overridden.
class JsonHandler : public TypedHandler<boost::json::object> {
 public:
  using TypedHandler::TypedHandler;
  boost::json::object parse(const boost::json::object& payload) const override { return payload; }
};

// parse_payload then run_parsed, for tests and tools that hold a raw payload.
inline HandlerResult parse_and_run(Handler& handler, const boost::json::object& payload,
                                   JobContext& ctx) {
  return handler.run_parsed(handler.parse_payload(payload), ctx);
}

}  // namespace streamer
