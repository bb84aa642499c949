// The WebSocket upgrade of an HTTP connection: Beast answers the handshake (request
// checks, Sec-WebSocket-Accept, our Server header, a 10 s bound), then is done with the
// connection, and a WsSession serves it on the bare stream.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>
#include <string>

#include "gateway/http_routes.hpp"
#include "gateway/ws_session.hpp"

namespace streamer {

struct Upgrade {
  HttpRequest req;  // the upgrade request (dropped once answered)
  std::string remote_ip;
  std::optional<VerifiedToken> token;   // set when the client is admitted
  std::optional<Refusal> refusal;       // set when it is not
  std::string early;                    // bytes the client sent after the request
  ServiceInterface* service = nullptr;  // what serves the connection (clients or workers)
  int max_messages_per_second = 0;      // the connection's message rate bound
};

// Answers the upgrade on `stream` and starts the session; completes once the answer is
// written (the session then runs on its own). On a failed handshake, just returns.
boost::asio::awaitable<void> upgrade_websocket(boost::beast::tcp_stream stream, Upgrade up,
                                               GatewayContext& ctx);
boost::asio::awaitable<void> upgrade_websocket(
    boost::beast::ssl_stream<boost::beast::tcp_stream> stream, Upgrade up, GatewayContext& ctx);

}  // namespace streamer
