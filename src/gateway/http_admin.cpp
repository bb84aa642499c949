#include "gateway/http_admin.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <memory>

#include "gateway/http_routes.hpp"
#include "gateway/http_write.hpp"

namespace streamer {
namespace asio = boost::asio;
namespace http = boost::beast::http;

std::optional<std::variant<AdminRequest, HttpAnswer>> admin_route(GatewayContext& ctx,
                                                                  const HttpRequest& req) {
  if (!ctx.hooks.admin) return std::nullopt;
  if (req.method() != http::verb::get && req.method() != http::verb::head) return std::nullopt;
  auto target = split_target(req.target());
  if (!target) return std::nullopt;
  if (target->path != "/admin/jobs" && !target->path.starts_with("/admin/jobs/"))
    return std::nullopt;
  auto verified = authenticate(ctx.verifier, req, target->query, std::chrono::system_clock::now());
  if (auto* err = std::get_if<JwtError>(&verified))
    return http_write::error_answer(401, "UNAUTHORIZED", err->reason);
  return AdminRequest{std::move(std::get<VerifiedToken>(verified).identity),
                      std::move(target->path), std::move(target->query)};
}

asio::awaitable<HttpAnswer> await_admin_answer(GatewayContext& ctx, AdminRequest request) {
  auto strand = co_await asio::this_coro::executor;
  // The answer and the timer that wakes the coroutine, both touched on the strand only.
  struct Pending {
    explicit Pending(asio::any_io_executor ex)
        : wake(std::move(ex), std::chrono::steady_clock::time_point::max()) {}
    asio::steady_timer wake;
    std::optional<HttpAnswer> answer;
  };
  auto pending = std::make_shared<Pending>(strand);
  ctx.hooks.admin(request.who, request.path, request.query, [pending, strand](HttpAnswer a) {
    asio::post(strand, [pending, a = std::move(a)]() mutable {
      pending->answer = std::move(a);
      // Also wakes a wait that has not begun yet (the expiry is in the past).
      pending->wake.expires_at(std::chrono::steady_clock::time_point::min());
    });
  });
  while (!pending->answer) co_await pending->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return std::move(*pending->answer);
}

}  // namespace streamer
