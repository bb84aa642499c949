// The address a connection comes from, as the per-address limits count it: the peer of
// the TCP connection, or, when that peer is a trusted proxy (a load balancer), the
// client it names in X-Forwarded-For. Headers from anyone else are ignored, so a
// client cannot pick its own address to escape the limits.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace streamer {

// Trusted proxies: addresses (`10.0.0.5`) and networks (`10.0.0.0/8`, `fd00::/8`).
class TrustedProxies {
 public:
  // Parses a comma-separated list; throws std::invalid_argument naming a bad entry.
  static TrustedProxies parse(std::string_view list);
  bool empty() const { return nets_.empty(); }
  bool contains(const boost::asio::ip::address& a) const;
  // `address` as text (an IPv4-mapped IPv6 address counts as its IPv4 address); false
  // for text that is not an address.
  bool contains_text(std::string_view address) const;

 private:
  struct Net {
    boost::asio::ip::address base;
    unsigned prefix = 0;
  };
  std::vector<Net> nets_;
};

// The client address for `peer` given the request's X-Forwarded-For value (empty when
// absent): walking the list from the right (the entry the nearest proxy added), the
// first address that is not a trusted proxy. `peer` itself when it is not trusted, or
// when the header is absent or malformed.
std::string client_address(const std::string& peer, std::string_view forwarded_for,
                           const TrustedProxies& trusted);

}  // namespace streamer
