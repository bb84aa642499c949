#include "core/waiting_handler.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <optional>

namespace streamer {
namespace asio = boost::asio;

HandlerResult WaitingHandler::run_parsed(const ParsedRequest& request, JobContext& ctx) {
  asio::io_context io(1);
  std::exception_ptr error;
  std::optional<HandlerResult> result;
  asio::co_spawn(io, run_waiting(request, ctx), [&](std::exception_ptr e, HandlerResult r) {
    error = e;
    result = std::move(r);
  });
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

asio::awaitable<bool> wait_until(const CancelToken& cancel,
                                 std::chrono::steady_clock::time_point deadline) {
  if (cancel.cancelled()) co_return false;
  if (deadline <= std::chrono::steady_clock::now()) co_return true;
  auto executor = co_await asio::this_coro::executor;
  // Shared with the wake-up, which may run on another thread after this frame is gone.
  auto timer = std::make_shared<asio::steady_timer>(executor, deadline);
  // A cancel from any thread cancels the timer on the timer's own executor (a timer is
  // not thread-safe). Set before the wait: a cancel in between still reaches it, since
  // the posted cancel runs after this coroutine has suspended in async_wait.
  cancel.set_wake([timer] { asio::post(timer->get_executor(), [timer] { timer->cancel(); }); });
  boost::system::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  cancel.set_wake(nullptr);
  co_return !cancel.cancelled();
}

asio::awaitable<bool> wait_for(const CancelToken& cancel, std::chrono::nanoseconds duration) {
  return wait_until(cancel,
                    std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(duration));
}

}  // namespace streamer
