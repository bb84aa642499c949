#include "lib/ws_connect.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket.hpp>

#include <stdexcept>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace bench {

Target parse_ws_url(const std::string& url) {
  const std::string scheme = "ws://";
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("load generator needs ws:// " + url);
  const auto hostport_end = url.find('/', scheme.size());
  const std::string hostport = url.substr(scheme.size(), hostport_end - scheme.size());
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("URL needs a port: " + url);
  Target t;
  t.host = hostport.substr(0, colon);
  t.port = static_cast<uint16_t>(std::stoi(hostport.substr(colon + 1)));
  t.target = hostport_end == std::string::npos ? "/" : url.substr(hostport_end);
  return t;
}

asio::ip::address_v4 loopback_source(uint32_t salt, uint32_t n) {
  constexpr uint32_t kSpan = 238u * 256u * 254u;  // a in [16,253], b any, c in [1,254]
  const uint32_t k = (salt + n) % kSpan;
  const uint32_t a = 16 + k / (256u * 254u);
  const uint32_t b = (k / 254u) % 256u;
  const uint32_t c = 1 + k % 254u;
  return asio::ip::address_v4((127u << 24) | (a << 16) | (b << 8) | c);
}

asio::awaitable<std::unique_ptr<Ws>> connect_ws(const Target& t, asio::ip::address_v4 source) {
  auto ex = co_await asio::this_coro::executor;
  auto ws = std::make_unique<Ws>(ex);
  auto& sock = beast::get_lowest_layer(*ws).socket();
  const asio::ip::tcp::endpoint remote(asio::ip::make_address(t.host), t.port);
  sock.open(remote.protocol());
  if (!source.is_unspecified()) sock.bind(asio::ip::tcp::endpoint(source, 0));
  co_await sock.async_connect(remote, asio::use_awaitable);
  sock.set_option(asio::ip::tcp::no_delay(true));
  ws->set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  ws->text(true);
  ws->auto_fragment(false);
  co_await ws->async_handshake(t.host + ":" + std::to_string(t.port), t.target,
                               asio::use_awaitable);
  co_return ws;
}

}  // namespace bench
