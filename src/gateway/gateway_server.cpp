#include "gateway/gateway_server.hpp"

#include <spdlog/spdlog.h>

#include "core/json_text.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>

#include "gateway/connection.hpp"

namespace streamer {
namespace asio = boost::asio;

GatewayServer::GatewayServer(const GatewayOptions& options, Metrics& metrics, const JwtVerifier& verifier)
    : options_(options), io_(std::max(1, options.io_threads)), ctx_(options_, metrics, verifier), acceptor_(io_), sweep_timer_(io_) {
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    tls_.emplace(asio::ssl::context::tls_server);
    tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    tls_->use_certificate_chain_file(options_.tls_cert_file);
    tls_->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem);
  }
}

GatewayServer::~GatewayServer() { stop(); }

void GatewayServer::listen() {
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address(options_.address), options_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  bound_port_ = acceptor_.local_endpoint().port();
  ctx_.accepting = true;
  accept_next();
  sweep();
}

void GatewayServer::accept_next() {
  // Each connection gets its own strand, so its coroutines never run concurrently.
  acceptor_.async_accept(asio::make_strand(io_), [this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      // Out of file descriptors and similar: log, keep accepting.
      spdlog::warn(R"({{"event":"accept_error","error":{}}})", json_quoted(ec.message()));
    } else {
      auto exec = socket.get_executor();
      asio::co_spawn(exec, serve_connection(std::move(socket), ctx_, tls_ ? &*tls_ : nullptr),
                     [](std::exception_ptr e) {
                       if (!e) return;
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         spdlog::error(R"({{"event":"connection_error","error":{}}})", json_quoted(ex.what()));
                       }
                     });
    }
    accept_next();
  });
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
  for (int i = 1; i < std::max(1, options_.io_threads); ++i) threads_.emplace_back([this] { io_.run(); });
  io_.run();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void GatewayServer::drain() {
  ctx_.draining = true;
  ctx_.accepting = false;
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  ctx_.sessions.close_all(1012, "server shutting down");
}

void GatewayServer::stop() { io_.stop(); }

}  // namespace streamer
