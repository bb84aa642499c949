// The --listen value: HOST:PORT, where HOST is an IPv4 address, a bracketed IPv6
// address ([::1]) or a host name (resolved once, at start).
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace streamer::app {

struct ListenAddress {
  std::string address;  // numeric, ready for the acceptor ("127.0.0.1", "::1")
  unsigned short port = 0;
};

// Parses and resolves `listen`. A host name resolves to its first IPv4 address when it
// has one (so `localhost:8080` serves the 127.0.0.1 clients use by default), else its
// first IPv6 address. Throws std::invalid_argument naming the value and what is wrong
// (missing port, port not a number in 0-65535, empty host, unresolvable name).
ListenAddress parse_listen_address(std::string_view listen);

// One line saying why the server cannot listen on `listen`, with what to do about it
// (port in use, permission denied for a low port, address not on this machine).
std::string listen_failure_message(std::string_view listen, const std::error_code& error);

}  // namespace streamer::app
