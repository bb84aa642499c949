#include "gateway/metrics_listener.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace streamer {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One connection: its request and answer; holds one of the kMaxConnections places.
struct MetricsListener::Exchange {
  Exchange(tcp::socket socket, std::shared_ptr<std::atomic<int>> open)
      : stream(std::move(socket)), open(std::move(open)) {}
  ~Exchange() { open->fetch_sub(1); }
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
  http::response<http::string_body> response;
  std::shared_ptr<std::atomic<int>> open;
};

MetricsListener::MetricsListener(asio::io_context& io, Metrics& metrics)
    : io_(io), metrics_(metrics), acceptor_(io) {}

void MetricsListener::listen(const std::string& address, unsigned short port) {
  const tcp::endpoint endpoint(asio::ip::make_address(address), port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  accept_next();
}

void MetricsListener::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (open_->fetch_add(1) >= kMaxConnections) {
        open_->fetch_sub(1);
        socket.close(ec);  // a scraper needs one connection, not dozens
      } else {
        serve(std::make_shared<Exchange>(std::move(socket), open_));
      }
    }
    accept_next();
  });
}

void MetricsListener::serve(std::shared_ptr<Exchange> x) {
  x->parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
  x->stream.expires_after(kReadTimeout);
  http::async_read(x->stream, x->buffer, x->parser, [this, x](beast::error_code ec, std::size_t) {
    if (ec) return;  // timed out, too large or closed: nothing to answer
    const auto& req = x->parser.get();
    auto& res = x->response;
    res.version(req.version());
    res.keep_alive(false);
    const bool metrics_path = req.target() == "/metrics";
    if (metrics_path && (req.method() == http::verb::get || req.method() == http::verb::head)) {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      if (req.method() == http::verb::get) res.body() = metrics_.render();
    } else {
      res.result(metrics_path ? http::status::method_not_allowed : http::status::not_found);
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = metrics_path ? "only GET /metrics\n" : "this listener serves only /metrics\n";
    }
    res.prepare_payload();
    http::async_write(x->stream, res, [x](beast::error_code, std::size_t) {
      beast::error_code ignored;
      x->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  });
}

}  // namespace streamer
