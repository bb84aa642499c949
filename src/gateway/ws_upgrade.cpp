#include "gateway/ws_upgrade.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace streamer {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

// Answers the upgrade request with Beast, on a WebSocket stream that only borrows
// `stream` (and is gone, with all its buffers, once the answer is out).
template <class Stream>
asio::awaitable<bool> answer_upgrade(Stream& stream, const HttpRequest& req) {
  websocket::stream<Stream&, false> ws(stream);
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::seconds(10);
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws.set_option(timeouts);
  ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(beast::http::field::server, "streamer/" STREAMER_VERSION);
  }));
  auto [ec] = co_await ws.async_accept(req, asio::as_tuple(asio::use_awaitable));
  co_return !ec;
}

template <class SessionStream>
void start_session(SessionStream&& stream, Upgrade& up, GatewayContext& ctx) {
  auto session = std::make_shared<WsSession<SessionStream>>(
      std::move(stream), ctx, std::move(up.remote_ip), up.max_messages_per_second);
  session->start(*up.service, std::move(up.token), std::move(up.refusal), std::move(up.early));
}

}  // namespace

asio::awaitable<void> upgrade_websocket(beast::tcp_stream stream, Upgrade up, GatewayContext& ctx) {
  // A bare socket from here on: beast::tcp_stream's timer state is not needed.
  auto socket = stream.release_socket();
  const bool ok = co_await answer_upgrade(socket, up.req);
  up.req = {};  // the upgrade request (and the token in it) is not kept
  if (ok) start_session(std::move(socket), up, ctx);
}

asio::awaitable<void> upgrade_websocket(beast::ssl_stream<beast::tcp_stream> stream, Upgrade up,
                                        GatewayContext& ctx) {
  const bool ok = co_await answer_upgrade(stream, up.req);
  up.req = {};
  if (ok) start_session(std::move(stream), up, ctx);
}

}  // namespace streamer
