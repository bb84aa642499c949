// The gateway: an io_context run on all cores, a listener that accepts TCP (and TLS)
// connections, one sweeper for every connection's heartbeat deadlines, and drain. It
// knows nothing of handlers or storage: each authenticated connection opens a session
// with the ServiceInterface set in its context and hands it its frames.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "gateway/accept_backoff.hpp"
#include "gateway/gateway_context.hpp"

namespace streamer {

class GatewayServer {
 public:
  // Loads the TLS certificate and key when configured (throws on failure).
  GatewayServer(const GatewayOptions& options, Metrics& metrics, const JwtVerifier& verifier);
  ~GatewayServer();

  boost::asio::io_context& io() { return io_; }
  GatewayContext& context() { return ctx_; }

  // Binds and starts accepting. Throws boost::system::system_error if the address is
  // taken. After this, /readyz answers 200.
  void listen();
  // The port actually bound (useful with port 0).
  unsigned short port() const { return bound_port_; }
  // Runs the io_context on options.io_threads threads (the caller's thread is one of
  // them) until stop().
  void run();
  // Stops accepting and asks every WebSocket to close with 1012 (after what is queued
  // for it); blocks until every session is gone or options.drain_timeout has passed.
  // Returns true when all closed in time. Call it from a thread other than the
  // gateway's I/O threads (they do the closing).
  bool drain();
  void stop();

 private:
  void accept_next();
  // accept() failed: back off (doubling up to a second), log at most one line per
  // kAcceptLogInterval, and when out of file descriptors answer one waiting client
  // on the spare descriptor.
  void on_accept_error(const boost::system::error_code& ec);
  // Out of descriptors: gives up the spare one to accept one waiting connection and
  // answer it (/healthz 200, else 503); the spare is taken again once it is closed.
  void answer_on_spare_descriptor();
  void take_spare_descriptor();
  // Every kSweepInterval: wakes the sessions with a deadline due (pings, timeouts).
  void sweep();

  GatewayOptions options_;
  boost::asio::io_context io_;
  std::optional<boost::asio::ssl::context> tls_;
  GatewayContext ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer sweep_timer_;
  boost::asio::steady_timer accept_retry_timer_;
  AcceptBackoff accept_backoff_;
  LogThrottle accept_error_log_;
  std::mutex spare_mutex_;
  int spare_fd_ = -1;  // /dev/null, held to be closed when descriptors run out
  unsigned short bound_port_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace streamer
