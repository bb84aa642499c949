#include "redis/redis_url.hpp"

#include <charconv>
#include <stdexcept>

namespace streamer::redis {
namespace {

constexpr std::string_view kDirect = "redis://";
constexpr std::string_view kSentinel = "redis-sentinel://";

int parse_int(std::string_view text, int lo, int hi, const char* what) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < lo ||
      value > hi) {
    throw std::invalid_argument(std::string("redis URL: invalid ") + what + " '" +
                                std::string(text) + "'");
  }
  return value;
}

Endpoint parse_endpoint(std::string_view text) {
  Endpoint e;
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    e.host = std::string(text);
  } else {
    e.host = std::string(text.substr(0, colon));
    e.port = parse_int(text.substr(colon + 1), 1, 65535, "port");
  }
  if (e.host.empty()) throw std::invalid_argument("redis URL: empty host");
  return e;
}

}  // namespace

bool is_redis_url(std::string_view text) noexcept {
  return text.starts_with(kDirect) || text.starts_with(kSentinel);
}

std::string RedisUrl::describe() const {
  std::string out(sentinel ? kSentinel : kDirect);
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (i) out += ',';
    out += hosts[i].host + ":" + std::to_string(hosts[i].port);
  }
  if (sentinel) out += "/" + master_name;
  out += "/" + std::to_string(db);
  return out;
}

RedisUrl parse_redis_url(std::string_view text) {
  RedisUrl url;
  if (text.starts_with(kSentinel)) {
    url.sentinel = true;
    text.remove_prefix(kSentinel.size());
  } else if (text.starts_with(kDirect)) {
    text.remove_prefix(kDirect.size());
  } else {
    throw std::invalid_argument("redis URL must start with redis:// or redis-sentinel://");
  }
  if (auto at = text.rfind('@'); at != std::string_view::npos) {
    auto auth = text.substr(0, at);
    // `:password` or `user:password`; only the password is used (Redis 5 style AUTH).
    auto colon = auth.find(':');
    url.password = std::string(colon == std::string_view::npos ? auth : auth.substr(colon + 1));
    text.remove_prefix(at + 1);
  }
  auto slash = text.find('/');
  std::string_view hosts = text.substr(0, slash);
  std::string_view rest =
      slash == std::string_view::npos ? std::string_view{} : text.substr(slash + 1);
  if (hosts.empty()) throw std::invalid_argument("redis URL: no host");
  while (!hosts.empty()) {
    auto comma = hosts.find(',');
    url.hosts.push_back(parse_endpoint(hosts.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    hosts.remove_prefix(comma + 1);
  }
  if (url.sentinel) {
    auto next = rest.find('/');
    url.master_name = std::string(rest.substr(0, next));
    if (url.master_name.empty()) {
      throw std::invalid_argument("redis-sentinel URL: missing /MASTER_NAME after the Sentinels");
    }
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
  } else if (url.hosts.size() != 1) {
    throw std::invalid_argument(
        "redis URL: exactly one HOST:PORT (use redis-sentinel:// for several)");
  }
  if (!rest.empty()) url.db = parse_int(rest, 0, 15, "database number");
  return url;
}

}  // namespace streamer::redis
