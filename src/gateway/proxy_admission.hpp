// The accept side of the PROXY protocol (--proxy-protocol): reads the header a trusted
// proxy puts before a connection's first byte and replaces the connection's address
// with the client it names, so the per-IP connection rate and the logs see the client,
// not the load balancer. Connections it refuses are counted by reason in
// streamer_proxy_protocol_refused_total.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "gateway/client_address.hpp"
#include "service/metrics.hpp"

namespace streamer {

// Why a connection was closed at its PROXY header.
enum class ProxyRefusal : std::uint8_t {
  kUntrustedPeer,  // a peer outside --trusted-proxies sent a header
  kMissing,        // a trusted proxy's connection did not start with one
  kMalformed,      // the header breaks the spec
  kTimeout,        // the header did not arrive within the header timeout
  kCount
};

// Refusals so far, by reason; rendered with the process metrics.
class ProxyRefusalCounts {
 public:
  void add(ProxyRefusal why) { counts_[std::size_t(why)].fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t get(ProxyRefusal why) const { return counts_[std::size_t(why)].load(); }
  // Appends the counter family in Prometheus text.
  void render(std::string& out) const;

 private:
  std::array<std::atomic<std::uint64_t>, std::size_t(ProxyRefusal::kCount)> counts_{};
};

// Registers `counts` with `metrics` (kept alive by the renderer).
void expose_proxy_refusals(Metrics& metrics, std::shared_ptr<ProxyRefusalCounts> counts);

// Reads what starts `stream` until the PROXY header question is settled, within
// `timeout`. True: serve the connection as from `ip`, which is replaced by the header's
// client address when a trusted proxy named one; the bytes read past the header are left
// in `early` (the start of the HTTP request or TLS handshake). False: the connection must
// be closed; the reason was counted in `counts` and logged.
boost::asio::awaitable<bool> accept_proxy_header(boost::beast::tcp_stream& stream,
                                                 const TrustedProxies& trusted,
                                                 std::chrono::seconds timeout, std::string& ip,
                                                 boost::beast::flat_buffer& early,
                                                 ProxyRefusalCounts& counts);

}  // namespace streamer
