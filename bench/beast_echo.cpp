// beast-echo: the ceiling of our own stack. A bare Boost.Beast WebSocket server with
// C++20 coroutines that echoes every message's bytes back, one coroutine per
// connection, no parsing. Same Asio/Beast build (streamer_boost) as the server.
//   beast-echo --listen 127.0.0.1:PORT [--threads N] [--max-seconds S]
// Stops by itself after --max-seconds (default 1800) or on SIGINT/SIGTERM.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

// Accepts the upgrade, then reads a message and writes the same bytes back until the
// peer goes away.
asio::awaitable<void> echo_session(tcp::socket socket) {
  socket.set_option(tcp::no_delay(true));
  websocket::stream<beast::tcp_stream> ws(std::move(socket));
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  try {
    co_await ws.async_accept(asio::use_awaitable);
    beast::flat_buffer buf;
    while (true) {
      co_await ws.async_read(buf, asio::use_awaitable);
      ws.text(ws.got_text());
      co_await ws.async_write(buf.data(), asio::use_awaitable);
      buf.consume(buf.size());
    }
  } catch (const std::exception&) {
  }
}

// Accept loop; sessions are spread over the io_context threads by the acceptor's
// executor (all threads run the same io_context, as a Beast server usually does).
asio::awaitable<void> listener(tcp::acceptor& acceptor) {
  while (true) {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    auto ex = socket.get_executor();
    asio::co_spawn(ex, echo_session(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:9001";
  int threads = 1;
  int max_seconds = 1800;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--listen") listen = argv[i + 1];
    else if (key == "--threads") threads = std::atoi(argv[i + 1]);
    else if (key == "--max-seconds") max_seconds = std::atoi(argv[i + 1]);
  }
  const auto colon = listen.rfind(':');
  const tcp::endpoint ep(asio::ip::make_address(listen.substr(0, colon)),
                         static_cast<unsigned short>(std::stoi(listen.substr(colon + 1))));
  asio::io_context ioc(threads);
  tcp::acceptor acceptor(ioc);
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(ioc, listener(acceptor), asio::detached);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { ioc.stop(); });
  asio::steady_timer limit(ioc, std::chrono::seconds(max_seconds));
  limit.async_wait([&](auto) { ioc.stop(); });
  std::cerr << "beast-echo listening on " << listen << " with " << threads << " threads\n";
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  return 0;
}
