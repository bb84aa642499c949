// Serves one accepted TCP connection: optional TLS handshake, HTTP/1.1 requests
// (keep-alive) until one asks to upgrade to a WebSocket on /{stage}, which is then
// authenticated and handed to a WsSession.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "gateway/gateway_context.hpp"

namespace streamer {

// `tls` null: plain ws:// and http://.
boost::asio::awaitable<void> serve_connection(boost::asio::ip::tcp::socket socket,
                                              GatewayContext& ctx, boost::asio::ssl::context* tls);

// Serves one connection accepted while the process is out of file descriptors (on
// the spare one): reads its request header briefly, answers GET /healthz 200 (the
// process is alive) and anything else 503, and closes. `tls`: the connection expects
// TLS, which is not attempted; it is closed at once.
boost::asio::awaitable<void> serve_without_descriptors(boost::asio::ip::tcp::socket socket,
                                                       GatewayContext& ctx, bool tls);

}  // namespace streamer
