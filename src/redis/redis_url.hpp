// Where a Redis store lives: `redis://[:PASSWORD@]HOST:PORT[/DB]` (one server) or
// `redis-sentinel://[:PASSWORD@]H1:P1,H2:P2/MASTER_NAME[/DB]` (Sentinels that name the
// current primary). The password, when given, is sent with AUTH to the data server and is
// never part of what describe() returns.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace streamer::redis {

struct Endpoint {
  std::string host;
  int port = 6379;
  bool operator==(const Endpoint&) const = default;
};

struct RedisUrl {
  bool sentinel = false;
  std::vector<Endpoint> hosts;  // the server, or the Sentinels in the order they are tried
  std::string master_name;      // sentinel only
  int db = 0;
  std::string password;
  // The URL without its password, fit for logs and error messages.
  std::string describe() const;
};

// True when `text` names a Redis store (either scheme), so callers can tell it from
// other --store values.
bool is_redis_url(std::string_view text) noexcept;

// Parses a URL of either form. Throws std::invalid_argument naming what is wrong (the
// message never contains the password).
RedisUrl parse_redis_url(std::string_view text);

}  // namespace streamer::redis
