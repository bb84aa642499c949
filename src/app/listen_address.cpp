#include "app/listen_address.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <memory>
#include <stdexcept>

namespace streamer::app {
namespace {

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// The numeric address of `host`: itself when already numeric, else the resolver's
// first IPv4 answer, else its first IPv6 answer.
std::string resolve_host(const std::string& host, std::string_view listen) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
    throw std::invalid_argument("--listen " + quoted(listen) + ": cannot resolve host " +
                                quoted(host) + " (" + ::gai_strerror(rc) +
                                "); use an IP address such as 127.0.0.1 or 0.0.0.0");
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  const addrinfo* chosen = nullptr;
  for (const addrinfo* a = found; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      chosen = a;
      break;
    }
    if (a->ai_family == AF_INET6 && !chosen) chosen = a;
  }
  if (!chosen)
    throw std::invalid_argument("--listen " + quoted(listen) + ": host " + quoted(host) +
                                " has no IP address");
  char text[INET6_ADDRSTRLEN] = {0};
  const void* raw = chosen->ai_family == AF_INET
                        ? static_cast<const void*>(
                              &reinterpret_cast<const sockaddr_in*>(chosen->ai_addr)->sin_addr)
                        : static_cast<const void*>(
                              &reinterpret_cast<const sockaddr_in6*>(chosen->ai_addr)->sin6_addr);
  ::inet_ntop(chosen->ai_family, raw, text, sizeof text);
  return text;
}

}  // namespace

ListenAddress parse_listen_address(std::string_view listen) {
  const auto usage = [&](std::string_view what) {
    return std::invalid_argument(
        "--listen " + quoted(listen) + ": " + std::string(what) +
        "; expected HOST:PORT, e.g. 127.0.0.1:8080, localhost:8080 or [::1]:8080");
  };
  const auto colon = listen.rfind(':');
  if (colon == std::string_view::npos) throw usage("no port");
  std::string_view host = listen.substr(0, colon);
  const std::string_view port_text = listen.substr(colon + 1);
  if (host.starts_with('[')) {
    if (!host.ends_with(']')) throw usage("unclosed '[' around an IPv6 address");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    throw usage("an IPv6 address needs brackets");
  }
  if (host.empty()) throw usage("no host");
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535)
    throw usage("the port must be a number from 0 to 65535");
  return ListenAddress{resolve_host(std::string(host), listen), static_cast<unsigned short>(port)};
}

std::string listen_failure_message(std::string_view listen, const std::error_code& error) {
  std::string head = "cannot listen on " + std::string(listen) + ": ";
  switch (error.value()) {
    case EADDRINUSE:
      return head +
             "the port is already in use (another process, perhaps another streamer, is "
             "listening on it); stop it or choose another port with --listen HOST:PORT (make run: "
             "STREAMER_LISTEN=127.0.0.1:8081 make run)";
    case EACCES:
      return head +
             "permission denied (ports below 1024 need privileges); choose a port above 1023";
    case EADDRNOTAVAIL:
      return head +
             "the address is not one of this machine's; use 127.0.0.1, 0.0.0.0 or an address of a "
             "local interface";
    default:
      return head + error.message();
  }
}

}  // namespace streamer::app
