// The PROXY protocol header (HAProxy's spec, version 1 text and version 2 binary) that
// a load balancer sends before anything else on a connection, naming the client it
// accepted. Parsing only: which peers may send it is decided where connections are
// accepted (only --trusted-proxies, and only with --proxy-protocol on).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include <boost/asio/ip/address.hpp>

namespace streamer {

struct ProxyHeader {
  enum class Status {
    kIncomplete,  // a prefix of a header: read more bytes and parse again
    kComplete,    // a whole header of `length` bytes
    kAbsent,      // the bytes do not start with either signature (plain HTTP or TLS)
    kMalformed,   // starts like a header but breaks the spec; `error` says how
  };
  Status status = Status::kIncomplete;
  std::size_t length = 0;  // bytes of the header (kComplete); what follows is the client's
  // The client's address; empty for a header that names none (v1 `UNKNOWN`, v2
  // `LOCAL` or a non-IP family): the connection is then the proxy's own.
  std::optional<boost::asio::ip::address> source;
  std::string_view error;  // static text (kMalformed)
};

// Longest version 1 header, CRLF included (the spec's bound).
constexpr std::size_t kProxyV1MaxLength = 107;
// Bytes before the length of a version 2 header is known.
constexpr std::size_t kProxyV2FixedLength = 16;

// Parses the header at the start of `data` (the first bytes read from the connection).
// Decides as early as the bytes allow: kAbsent or kMalformed from the first byte that
// rules a header out; kIncomplete only while `data` is a proper prefix of one that could
// still be valid (at most kProxyV1MaxLength bytes for v1, 16 + its declared length for v2).
ProxyHeader parse_proxy_header(std::string_view data);

}  // namespace streamer
