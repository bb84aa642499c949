#include "gateway/http_admin.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <future>
#include <thread>

namespace streamer {
namespace {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

class HttpAdminTest : public testing::Test {
 protected:
  HttpRequest get(std::string target) {
    HttpRequest req{http::verb::get, target, 11};
    return req;
  }
  // Runs await_admin_answer on a strand of `io` (one thread) and returns its answer.
  std::future<HttpAnswer> ask(asio::io_context& io) {
    auto strand = asio::make_strand(io);
    return asio::co_spawn(strand, await_admin_answer(ctx, AdminRequest{{}, "/admin/jobs", ""}),
                          asio::use_future);
  }

  GatewayOptions options;
  Metrics metrics;
  JwtVerifier verifier{[] {
    JwtConfig c;
    c.hmac_secret = "secret";
    return c;
  }()};
  GatewayContext ctx{options, metrics, verifier};
};

TEST_F(HttpAdminTest, OnlyAdminGetsWithAHookAreAdminRoutesAndABadTokenIs401) {
  EXPECT_FALSE(admin_route(ctx, get("/admin/jobs")));  // no hook: not served here
  ctx.hooks.admin = [](const Identity&, const std::string&, const std::string&,
                       std::function<void(HttpAnswer)>) {};
  EXPECT_FALSE(admin_route(ctx, get("/healthz")));
  HttpRequest post{http::verb::post, "/admin/jobs", 11};
  EXPECT_FALSE(admin_route(ctx, post));
  auto refused = admin_route(ctx, get("/admin/jobs/r1?tenant_id=t"));
  ASSERT_TRUE(refused);
  ASSERT_TRUE(std::holds_alternative<HttpAnswer>(*refused));
  EXPECT_EQ(std::get<HttpAnswer>(*refused).status, 401u);
}

TEST_F(HttpAdminTest, AnAnswerGivenAtOnceIsReturned) {
  ctx.hooks.admin = [](const Identity&, const std::string& path, const std::string&,
                       std::function<void(HttpAnswer)> done) {
    done(HttpAnswer::json(200, "{\"path\":\"" + path + "\"}"));
  };
  asio::io_context io;
  auto answer = ask(io);
  io.run();
  EXPECT_EQ(answer.get().body, R"({"path":"/admin/jobs"})");
}

TEST_F(HttpAdminTest, TheIoThreadServesOtherWorkWhileTheHookIsBusyElsewhere) {
  std::promise<void> release;
  std::thread busy;
  ctx.hooks.admin = [&](const Identity&, const std::string&, const std::string&,
                        std::function<void(HttpAnswer)> done) {
    busy = std::thread([gate = release.get_future(), done = std::move(done)]() mutable {
      gate.wait();  // the slow store call
      done(HttpAnswer::json(200, "{}"));
    });
  };
  asio::io_context io;
  auto answer = ask(io);
  // Other work on the same (single) I/O thread runs while the admin call is pending,
  // and lets the hook finish.
  bool other_ran = false;
  asio::steady_timer later(io, 20ms);
  later.async_wait([&](boost::system::error_code) {
    other_ran = true;
    release.set_value();
  });
  io.run();
  busy.join();
  EXPECT_TRUE(other_ran);
  EXPECT_EQ(answer.get().status, 200u);
}

}  // namespace
}  // namespace streamer
