#include "gateway/client_address.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace streamer {
namespace ip = boost::asio::ip;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<ip::address> parse_address(std::string_view text) {
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

// The first `prefix` bits of a and b are equal (same family).
bool same_prefix(const ip::address& a, const ip::address& b, unsigned prefix) {
  if (a.is_v4() != b.is_v4()) return false;
  auto compare = [prefix](const auto& x, const auto& y) {
    for (unsigned i = 0; i < x.size() && prefix > i * 8; ++i) {
      const unsigned bits = std::min(8u, prefix - i * 8);
      const unsigned mask = (0xffu << (8 - bits)) & 0xffu;
      if ((x[i] & mask) != (y[i] & mask)) return false;
    }
    return true;
  };
  if (a.is_v4()) return compare(a.to_v4().to_bytes(), b.to_v4().to_bytes());
  return compare(a.to_v6().to_bytes(), b.to_v6().to_bytes());
}

}  // namespace

TrustedProxies TrustedProxies::parse(std::string_view list) {
  TrustedProxies out;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (item.empty()) continue;
    auto slash = item.find('/');
    auto base = parse_address(item.substr(0, slash));
    if (!base)
      throw std::invalid_argument("--trusted-proxies: not an address: " + std::string(item));
    const unsigned max = base->is_v4() ? 32 : 128;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
      auto digits = item.substr(slash + 1);
      prefix = 0;
      if (digits.empty() || digits.size() > 3)
        throw std::invalid_argument("--trusted-proxies: bad prefix: " + std::string(item));
      for (char ch : digits) {
        if (ch < '0' || ch > '9')
          throw std::invalid_argument("--trusted-proxies: bad prefix: " + std::string(item));
        prefix = prefix * 10 + static_cast<unsigned>(ch - '0');
      }
      if (prefix > max)
        throw std::invalid_argument("--trusted-proxies: bad prefix: " + std::string(item));
    }
    out.nets_.push_back({*base, prefix});
  }
  return out;
}

bool TrustedProxies::contains(const ip::address& a) const {
  for (const auto& n : nets_) {
    if (same_prefix(a, n.base, n.prefix)) return true;
  }
  return false;
}

bool TrustedProxies::contains_text(std::string_view address) const {
  auto a = parse_address(address);
  return a && contains(*a);
}

std::string client_address(const std::string& peer, std::string_view forwarded_for,
                           const TrustedProxies& trusted) {
  if (trusted.empty() || forwarded_for.empty()) return peer;
  auto peer_addr = parse_address(peer);
  if (!peer_addr || !trusted.contains(*peer_addr)) return peer;
  std::optional<ip::address> chosen;
  while (!forwarded_for.empty()) {
    auto comma = forwarded_for.rfind(',');
    auto item =
        trim(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
    forwarded_for =
        comma == std::string_view::npos ? std::string_view{} : forwarded_for.substr(0, comma);
    auto a = parse_address(item);
    if (!a) return peer;  // malformed: do not guess
    chosen = a;
    if (!trusted.contains(*a)) break;  // the client as the outermost trusted proxy saw it
  }
  return chosen ? chosen->to_string() : peer;
}

}  // namespace streamer
