// gateway-ceiling: Streamer's gateway (the real GatewayServer: upgrade, JWT check,
// framing, limits, heartbeats, outbound queue) over a trivial ServiceInterface that
// answers every frame at once with a `success` response carrying the frame's id. No
// JSON parse of the request, no handler, no pool hop: the ceiling of the transport
// alone, to compare with `streamer serve` (the same gateway with the request service)
// and with beast-echo (bare Beast, no protocol).
//   gateway-ceiling --listen 127.0.0.1:PORT --jwt-secret S [--threads 2] [--max-seconds 1800]
// Per-connection message and per-IP connection rates are not limited (one load
// generator on one IP). Stops after --max-seconds or on SIGINT/SIGTERM.
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "core/protocol.hpp"
#include "core/request_id_peek.hpp"
#include "core/service_interface.hpp"
#include "gateway/gateway_server.hpp"

namespace {

using namespace streamer;

// Answers each frame with {"status":"healthy"} for the id found in its first bytes.
class ImmediateSession final : public ClientSession {
 public:
  ImmediateSession(Identity who, std::weak_ptr<MessageSink> sink)
      : who_(std::move(who)), sink_(std::move(sink)) {}
  const Identity& identity() const override { return who_; }
  void on_frame(std::string_view text) override {
    auto sink = sink_.lock();
    if (!sink) return;
    const std::string id = protocol::peek_request_id(text).value_or("");
    sink->deliver(id, MessageKind::kReply,
                  protocol::success_response(id, boost::json::object{{"status", "healthy"}}, 0.0));
  }
  void on_close() override {}

 private:
  Identity who_;
  std::weak_ptr<MessageSink> sink_;
};

class ImmediateService final : public ServiceInterface {
 public:
  std::shared_ptr<ClientSession> open_session(Identity who,
                                              std::weak_ptr<MessageSink> sink) override {
    return std::make_shared<ImmediateSession>(std::move(who), std::move(sink));
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:9002", secret;
  int threads = 2, max_seconds = 1800;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--listen")
      listen = argv[i + 1];
    else if (key == "--jwt-secret")
      secret = argv[i + 1];
    else if (key == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (key == "--max-seconds")
      max_seconds = std::atoi(argv[i + 1]);
  }
  if (secret.empty()) {
    std::cerr << "usage: gateway-ceiling --listen HOST:PORT --jwt-secret S [--threads N]\n";
    return 64;
  }
  const auto colon = listen.rfind(':');
  GatewayOptions options;
  options.address = listen.substr(0, colon);
  options.port = static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)));
  options.io_threads = threads;
  options.max_messages_per_second = 1'000'000;
  options.max_connections_per_minute = 1'000'000;
  Metrics metrics;
  JwtConfig jwt;
  jwt.hmac_secret = secret;
  JwtVerifier verifier(jwt);
  ImmediateService service;
  GatewayServer server(options, metrics, verifier);
  server.context().service = &service;
  server.listen();
  boost::asio::signal_set signals(server.io(), SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { server.stop(); });
  boost::asio::steady_timer limit(server.io(), std::chrono::seconds(max_seconds));
  limit.async_wait([&](auto) { server.stop(); });
  std::cerr << "gateway-ceiling listening on " << listen << " with " << threads << " threads\n";
  server.run();
  return 0;
}
