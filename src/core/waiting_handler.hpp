// The handler form for async work that is mostly waiting (a timer, a remote service's
// answer): run() is a C++20 coroutine on the worker pool's waiting lane, an Asio
// io_context of one thread, so a job that waits holds no thread, only its coroutine
// frame. 10,000 waiting jobs are 10,000 frames and timers, not 10,000 threads.
// CPU-bound work (reports, ML) stays a TypedHandler: a coroutine that computes holds
// the waiting lane's only thread, and every other waiting job with it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>

#include "core/handler.hpp"

namespace streamer {

// A handler whose run is a coroutine. The pool runs it on its waiting lane; anything
// else that holds a raw payload (tests, `streamer call`) may call run_parsed(), which
// runs the coroutine to its end on the calling thread.
class WaitingHandler : public Handler {
 public:
  using Handler::Handler;

  // Does the work of a request this handler's parse_payload() returned. Between waits
  // it must not block nor compute for long (it shares one thread with every waiting
  // job). Wait with wait_for(ctx.cancel, ...) so that a cancel, the time limit or a
  // shutdown ends the wait at once; the same exceptions as Handler::run_parsed end it.
  virtual boost::asio::awaitable<HandlerResult> run_waiting(const ParsedRequest& request,
                                                            JobContext& ctx) = 0;

  // run_waiting() on a private io_context, on the calling thread, until it ends.
  HandlerResult run_parsed(const ParsedRequest& request, JobContext& ctx) final;
};

// What a waiting handler implements, as TypedHandler does for the blocking form.
template <class Request>
class TypedWaitingHandler : public WaitingHandler {
 public:
  using WaitingHandler::WaitingHandler;

  // As TypedHandler::parse: pure, the same answer for the same payload.
  virtual Request parse(const boost::json::object& payload) const = 0;
  virtual boost::asio::awaitable<HandlerResult> run(const Request& request, JobContext& ctx) = 0;

  ParsedRequest parse_payload(const boost::json::object& payload) const final {
    return ParsedRequest(std::make_shared<const Request>(parse(payload)), this);
  }
  boost::asio::awaitable<HandlerResult> run_waiting(const ParsedRequest& request,
                                                    JobContext& ctx) final {
    // `request` outlives the coroutine (the caller keeps it), so the reference is safe.
    return run(request.as<Request>(this), ctx);
  }
};

// Waits `duration` on a timer of the calling coroutine's executor, holding no thread.
// Returns true when the time has passed, false as soon as `cancel` is cancelled (at
// once if it already is). The caller then throws OperationCancelled or returns.
boost::asio::awaitable<bool> wait_for(const CancelToken& cancel, std::chrono::nanoseconds duration);

// Waits until `deadline` (steady clock), as wait_for.
boost::asio::awaitable<bool> wait_until(const CancelToken& cancel,
                                        std::chrono::steady_clock::time_point deadline);

}  // namespace streamer
