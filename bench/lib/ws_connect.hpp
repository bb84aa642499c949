#pragma once
// Opening plain ws:// client connections for the load generator, optionally from a
// chosen loopback source address (127.x.y.z) so that per-IP connection-rate limits of
// the server under test are spread over many addresses, as many real clients would be.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace bench {

using Ws = boost::beast::websocket::stream<boost::beast::tcp_stream>;

struct Target {
  std::string host;  // numeric address, e.g. 127.0.0.1
  uint16_t port = 0;
  std::string target;  // path and query, e.g. /production?Authorization=...
};

// Parses ws://HOST:PORT/PATH?QUERY (HOST numeric). Throws std::invalid_argument.
Target parse_ws_url(const std::string& url);

// Loopback source address number `n` of a spread starting at `salt`: 127.a.b.c with
// a in [16, 253], never 127.0.0.x. Deterministic for (salt, n).
boost::asio::ip::address_v4 loopback_source(uint32_t salt, uint32_t n);

// Connects TCP (TCP_NODELAY on), binds to `source` unless it is unspecified, and
// completes the WebSocket handshake (text frames, no compression, no timeouts after
// the handshake). Throws boost::system::system_error on failure.
boost::asio::awaitable<std::unique_ptr<Ws>> connect_ws(const Target& t,
                                                       boost::asio::ip::address_v4 source);

}  // namespace bench
