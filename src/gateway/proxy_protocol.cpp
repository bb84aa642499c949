#include "gateway/proxy_protocol.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <string>

namespace streamer {
namespace ip = boost::asio::ip;

namespace {

constexpr std::string_view kV1Signature = "PROXY ";
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};

using Status = ProxyHeader::Status;

ProxyHeader malformed(std::string_view why) {
  ProxyHeader h;
  h.status = Status::kMalformed;
  h.error = why;
  return h;
}

ProxyHeader complete(std::size_t length, std::optional<ip::address> source) {
  ProxyHeader h;
  h.status = Status::kComplete;
  h.length = length;
  h.source = source;
  return h;
}

// `data` and `signature` agree on their common prefix.
bool agrees(std::string_view data, std::string_view signature) {
  const auto n = std::min(data.size(), signature.size());
  return data.substr(0, n) == signature.substr(0, n);
}

// The next space-separated field of `line` (advanced past it and its one space).
std::string_view next_field(std::string_view& line) {
  const auto space = line.find(' ');
  auto field = line.substr(0, space);
  line = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
  return field;
}

// A decimal port 0..65535 without sign or leading zeros (the spec's form).
bool valid_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() && v <= 65535;
}

std::optional<ip::address> address_of(std::string_view text, bool v4) {
  boost::system::error_code ec;
  if (v4) {
    auto a = ip::make_address_v4(std::string(text), ec);
    if (ec) return std::nullopt;
    return ip::address(a);
  }
  auto a = ip::make_address_v6(std::string(text), ec);
  if (ec) return std::nullopt;
  if (a.is_v4_mapped()) return ip::address(ip::make_address_v4(ip::v4_mapped, a));
  return ip::address(a);
}

// "PROXY TCP4 <src> <dst> <sport> <dport>\r\n", "PROXY TCP6 ...", "PROXY UNKNOWN...\r\n".
ProxyHeader parse_v1(std::string_view data) {
  const auto window = data.substr(0, kProxyV1MaxLength);
  const auto crlf = window.find("\r\n");
  if (crlf == std::string_view::npos) {
    // Only the last byte may be a CR (its LF may be on the way).
    if (const auto cr = window.find('\r'); cr != std::string_view::npos && cr + 1 < window.size())
      return malformed("v1 header has a CR not followed by LF");
    if (window.find('\n') != std::string_view::npos) return malformed("v1 header ends without CR");
    if (data.size() >= kProxyV1MaxLength) return malformed("v1 header longer than 107 bytes");
    return {};  // kIncomplete
  }
  const std::size_t length = crlf + 2;
  std::string_view line = window.substr(kV1Signature.size(), crlf - kV1Signature.size());
  if (line.find('\n') != std::string_view::npos) return malformed("v1 header has a bare LF");
  // As while incomplete: a CR inside the line is refused, whatever the protocol.
  if (line.find('\r') != std::string_view::npos)
    return malformed("v1 header has a CR not followed by LF");
  const auto proto = next_field(line);
  if (proto == "UNKNOWN") return complete(length, std::nullopt);  // the rest is ignored
  if (proto != "TCP4" && proto != "TCP6")
    return malformed("v1 protocol is not TCP4, TCP6 or UNKNOWN");
  const bool v4 = proto == "TCP4";
  const auto src = next_field(line);
  const auto dst = next_field(line);
  const auto sport = next_field(line);
  const auto dport = line;
  if (dport.find(' ') != std::string_view::npos) return malformed("v1 header has extra fields");
  auto source = address_of(src, v4);
  if (!source || !address_of(dst, v4)) return malformed("v1 address does not match its protocol");
  if (!valid_port(sport) || !valid_port(dport)) return malformed("v1 port is not 0-65535");
  return complete(length, source);
}

// 12-byte signature, version/command, family/transport, 16-bit length, addresses, TLVs.
ProxyHeader parse_v2(std::string_view data) {
  if (data.size() < kProxyV2FixedLength) {
    // Version and command are checked as soon as they arrive.
    if (data.size() > 12 && (static_cast<std::uint8_t>(data[12]) >> 4) != 2)
      return malformed("v2 version is not 2");
    return {};
  }
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(data[i]); };
  if ((byte(12) >> 4) != 2) return malformed("v2 version is not 2");
  const unsigned command = byte(12) & 0x0f;
  if (command > 1) return malformed("v2 command is neither LOCAL nor PROXY");
  const unsigned family = byte(13) >> 4;
  const unsigned transport = byte(13) & 0x0f;
  if (family > 3 || transport > 2) return malformed("v2 family or transport unknown");
  const std::size_t payload = (std::size_t(byte(14)) << 8) | byte(15);
  const std::size_t length = kProxyV2FixedLength + payload;
  if (family == 1 && payload < 12) return malformed("v2 length too short for IPv4 addresses");
  if (family == 2 && payload < 36) return malformed("v2 length too short for IPv6 addresses");
  if (family == 3 && payload < 216) return malformed("v2 length too short for UNIX addresses");
  if (data.size() < length) return {};
  // LOCAL: the proxy's own connection (health checks); other families name no IP client.
  if (command == 0 || transport != 1 || (family != 1 && family != 2))
    return complete(length, std::nullopt);
  const char* a = data.data() + kProxyV2FixedLength;
  if (family == 1) {
    ip::address_v4::bytes_type b;
    std::copy(a, a + 4, b.begin());
    return complete(length, ip::address(ip::address_v4(b)));
  }
  ip::address_v6::bytes_type b;
  std::copy(a, a + 16, b.begin());
  ip::address_v6 v6(b);
  if (v6.is_v4_mapped())
    return complete(length, ip::address(ip::make_address_v4(ip::v4_mapped, v6)));
  return complete(length, ip::address(v6));
}

}  // namespace

ProxyHeader parse_proxy_header(std::string_view data) {
  if (data.empty()) return {};
  if (agrees(data, kV1Signature)) {
    if (data.size() < kV1Signature.size()) return {};
    return parse_v1(data);
  }
  if (agrees(data, kV2Signature)) {
    if (data.size() < kV2Signature.size()) return {};
    return parse_v2(data);
  }
  ProxyHeader h;
  h.status = Status::kAbsent;
  return h;
}

}  // namespace streamer
