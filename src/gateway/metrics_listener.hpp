// The optional second listener (--metrics-listen HOST:PORT): it serves GET /metrics and
// nothing else, without a token, for a Prometheus that scrapes over a private
// interface while the public listener keeps /metrics behind --metrics-token (or open).
// Plain HTTP/1.1, one request per connection (answered with Connection: close), the
// request read within kReadTimeout with at most kMaxHeaderBytes of headers, and at most
// kMaxConnections connections open at once (more are closed unanswered). Runs on the
// gateway's io_context, so it stops with the gateway.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "service/metrics.hpp"

namespace streamer {

class MetricsListener {
 public:
  static constexpr std::chrono::seconds kReadTimeout{5};
  static constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
  static constexpr int kMaxConnections = 16;

  MetricsListener(boost::asio::io_context& io, Metrics& metrics);
  // Binds `address`:`port` (numeric address) and starts accepting. Throws
  // boost::system::system_error when it cannot listen there.
  void listen(const std::string& address, unsigned short port);
  // The port actually bound (useful with port 0).
  unsigned short port() const { return port_; }

 private:
  struct Exchange;
  void accept_next();
  void serve(std::shared_ptr<Exchange> exchange);

  boost::asio::io_context& io_;
  Metrics& metrics_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::shared_ptr<std::atomic<int>> open_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace streamer
