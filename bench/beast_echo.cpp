// beast-echo: the ceiling of our own stack. A bare Boost.Beast WebSocket server with
// C++20 coroutines that echoes every message's bytes back, one coroutine per
// connection, no parsing. Same Asio/Beast build (streamer_boost) as the server.
//   beast-echo --listen 127.0.0.1:PORT [--threads N] [--max-seconds S] [--lean 0|1]
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
// With `lean`, the per-connection buffers are kept small while idle (the experiment
// behind BENCHMARKS.md's idle-memory suggestions): a 512-byte write buffer and the
// read buffer released after every message.
// read buffer released after every message, and a bare tcp::socket under the
// WebSocket (no beast::tcp_stream timer state; Beast's own idle timeout still works).
template <class Next>
asio::awaitable<void> echo_session(tcp::socket socket, bool lean) {
  socket.set_option(tcp::no_delay(true));
  websocket::stream<Next> ws(std::move(socket));
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  if (lean) ws.write_buffer_bytes(512);
  try {
    co_await ws.async_accept(asio::use_awaitable);
    beast::flat_buffer buf;
    while (true) {
      co_await ws.async_read(buf, asio::use_awaitable);
      ws.text(ws.got_text());
      co_await ws.async_write(buf.data(), asio::use_awaitable);
      buf.consume(buf.size());
      if (lean) buf.shrink_to_fit();
    }
  } catch (const std::exception&) {
  }
}

// Accept loop; sessions are spread over the io_context threads by the acceptor's
// executor (all threads run the same io_context, as a Beast server usually does).
asio::awaitable<void> listener(tcp::acceptor& acceptor, bool lean) {
  while (true) {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    auto ex = socket.get_executor();
    if (lean)
      asio::co_spawn(ex, echo_session<tcp::socket>(std::move(socket), lean), asio::detached);
    else
      asio::co_spawn(ex, echo_session<beast::tcp_stream>(std::move(socket), lean), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:9001";
  int threads = 1;
  int max_seconds = 1800;
  bool lean = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--listen")
      listen = argv[i + 1];
    else if (key == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (key == "--max-seconds")
      max_seconds = std::atoi(argv[i + 1]);
    else if (key == "--lean")
      lean = std::atoi(argv[i + 1]) != 0;
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
  asio::co_spawn(ioc, listener(acceptor, lean), asio::detached);
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
