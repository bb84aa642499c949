#include "gateway/gateway_server.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>

#include "core/json_text.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>

#include "core/log_event.hpp"
#include "gateway/connection.hpp"

namespace streamer {
namespace asio = boost::asio;

namespace {

// accept() failures: the first retry after 50 ms, doubling up to a second; one log
// line per 10 s at most.
constexpr auto kFirstAcceptRetry = std::chrono::milliseconds(50);
constexpr auto kLongestAcceptRetry = std::chrono::milliseconds(1000);
constexpr auto kAcceptLogInterval = std::chrono::seconds(10);

}  // namespace

GatewayServer::GatewayServer(const GatewayOptions& options, Metrics& metrics,
                             const JwtVerifier& verifier)
    : options_(options),
      io_(std::max(1, options.io_threads)),
      ctx_(options_, metrics, verifier),
      acceptor_(io_),
      sweep_timer_(io_),
      accept_retry_timer_(io_),
      accept_backoff_(kFirstAcceptRetry, kLongestAcceptRetry),
      accept_error_log_(kAcceptLogInterval) {
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    tls_.emplace(asio::ssl::context::tls_server);
    tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1);
    tls_->use_certificate_chain_file(options_.tls_cert_file);
    tls_->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem);
  }
}

GatewayServer::~GatewayServer() {
  stop();
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

void GatewayServer::listen() {
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address(options_.address), options_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  bound_port_ = acceptor_.local_endpoint().port();
  acceptor_.non_blocking(true);  // answer_on_spare_descriptor() accepts without waiting
  take_spare_descriptor();
  ctx_.accepting = true;
  accept_next();
  sweep();
}

void GatewayServer::accept_next() {
  // Each connection gets its own strand, so its coroutines never run concurrently.
  acceptor_.async_accept(asio::make_strand(io_), [this](boost::system::error_code ec,
                                                        asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      return on_accept_error(ec);
    }
    accept_backoff_.reset();
    auto exec = socket.get_executor();
    asio::co_spawn(exec, serve_connection(std::move(socket), ctx_, tls_ ? &*tls_ : nullptr),
                   [](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       log_event(spdlog::level::err, "connection_error", {{"error", ex.what()}});
                     }
                   });
    accept_next();
  });
}

void GatewayServer::on_accept_error(const boost::system::error_code& ec) {
  const bool out_of_descriptors = ec == asio::error::no_descriptors || ec.value() == ENFILE;
  if (out_of_descriptors) answer_on_spare_descriptor();
  const auto delay = accept_backoff_.next_delay();
  if (auto failures = accept_error_log_.event(std::chrono::steady_clock::now())) {
    log_event(spdlog::level::warn, "accept_error",
              {{"error", ec.message()}, {"failures", *failures}, {"retry_in_ms", delay.count()}});
  }
  accept_retry_timer_.expires_after(delay);
  accept_retry_timer_.async_wait([this](boost::system::error_code wait_ec) {
    if (!wait_ec && acceptor_.is_open()) accept_next();
  });
}

void GatewayServer::take_spare_descriptor() {
  std::lock_guard lock(spare_mutex_);
  if (spare_fd_ < 0) spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void GatewayServer::answer_on_spare_descriptor() {
  {
    std::lock_guard lock(spare_mutex_);
    if (spare_fd_ < 0) return;  // in use for another answer, or not retaken yet
    ::close(spare_fd_);
    spare_fd_ = -1;
  }
  boost::system::error_code ec;
  asio::ip::tcp::socket socket = acceptor_.accept(asio::make_strand(io_), ec);
  if (ec) return take_spare_descriptor();
  auto exec = socket.get_executor();
  asio::co_spawn(exec, serve_without_descriptors(std::move(socket), ctx_, tls_.has_value()),
                 [this](std::exception_ptr) { take_spare_descriptor(); });
}

void GatewayServer::sweep() {
  // A quarter second: pings and timeouts are in whole seconds; one pass over 18,000
  // sessions reads 18,000 atomics.
  constexpr auto kSweepInterval = std::chrono::milliseconds(250);
  ctx_.sessions.wake_due(std::chrono::steady_clock::now());
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) sweep();
  });
}

void GatewayServer::run() {
  for (int i = 1; i < std::max(1, options_.io_threads); ++i)
    threads_.emplace_back([this] { io_.run(); });
  io_.run();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

bool GatewayServer::drain() {
  const auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
  ctx_.draining = true;
  ctx_.accepting = false;
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    accept_retry_timer_.cancel();
  });
  ctx_.sessions.close_all(1012, "server shutting down");
  return ctx_.sessions.wait_empty(deadline);
}

void GatewayServer::stop() { io_.stop(); }

}  // namespace streamer
