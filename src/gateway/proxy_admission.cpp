#include "gateway/proxy_admission.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log_event.hpp"
#include "gateway/proxy_protocol.hpp"

namespace streamer {
namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {

constexpr std::array<const char*, std::size_t(ProxyRefusal::kCount)> kReasons{
    "untrusted_peer", "missing", "malformed", "timeout"};

// Bytes read at once while looking for the header; what arrives past the header stays in
// the buffer as the client's first bytes.
constexpr std::size_t kReadChunk = 512;

}  // namespace

void ProxyRefusalCounts::render(std::string& out) const {
  out +=
      "# HELP streamer_proxy_protocol_refused_total Connections closed at their PROXY protocol "
      "header, by reason.\n"
      "# TYPE streamer_proxy_protocol_refused_total counter\n";
  for (std::size_t i = 0; i < kReasons.size(); ++i) {
    out += "streamer_proxy_protocol_refused_total{reason=\"";
    out += kReasons[i];
    out += "\"} ";
    out += std::to_string(counts_[i].load(std::memory_order_relaxed));
    out += '\n';
  }
}

void expose_proxy_refusals(Metrics& metrics, std::shared_ptr<ProxyRefusalCounts> counts) {
  metrics.add_renderer([counts = std::move(counts)](std::string& out) { counts->render(out); });
}

asio::awaitable<bool> accept_proxy_header(beast::tcp_stream& stream, const TrustedProxies& trusted,
                                          std::chrono::seconds timeout, std::string& ip,
                                          beast::flat_buffer& early, ProxyRefusalCounts& counts) {
  const bool from_proxy = trusted.contains_text(ip);
  auto refuse = [&](ProxyRefusal why, std::string_view detail) {
    counts.add(why);
    log_event(spdlog::level::warn, "proxy_protocol_refused",
              {{"reason", kReasons[std::size_t(why)]}, {"remote", ip}, {"detail", detail}});
    return false;
  };
  stream.expires_after(timeout);
  for (;;) {
    const std::string_view seen(static_cast<const char*>(early.data().data()), early.size());
    const ProxyHeader h = parse_proxy_header(seen);
    switch (h.status) {
      case ProxyHeader::Status::kAbsent:
        stream.expires_never();
        if (from_proxy) co_return refuse(ProxyRefusal::kMissing, "no PROXY header");
        co_return true;  // a direct client: served under its own address
      case ProxyHeader::Status::kMalformed:
        co_return refuse(from_proxy ? ProxyRefusal::kMalformed : ProxyRefusal::kUntrustedPeer,
                         h.error);
      case ProxyHeader::Status::kComplete:
        stream.expires_never();
        if (!from_proxy) co_return refuse(ProxyRefusal::kUntrustedPeer, "PROXY header");
        if (h.source) ip = h.source->to_string();
        early.consume(h.length);
        co_return true;
      case ProxyHeader::Status::kIncomplete:
        break;
    }
    auto [ec, n] = co_await stream.async_read_some(early.prepare(kReadChunk),
                                                   asio::as_tuple(asio::use_awaitable));
    early.commit(n);
    if (ec == beast::error::timeout) co_return refuse(ProxyRefusal::kTimeout, "header timeout");
    if (ec) co_return false;  // the peer went away
  }
}

}  // namespace streamer
