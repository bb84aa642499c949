// One WebSocket connection: accepts the upgrade, authenticates, then runs a reader
// (frames → RequestService), a writer (one write in flight, bounded OutboundQueue
// behind it) and a control loop (pings, idle/lifetime/token deadlines, close). All
// three run on the connection's strand, so its state needs no locks; other threads
// reach it only through deliver()/close(), which post to the strand.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "gateway/gateway_context.hpp"
#include "gateway/outbound_queue.hpp"
#include "service/client_connection.hpp"

namespace streamer {

// Why the connection is refused after the upgrade (sent as one `error`, then closed).
struct Refusal {
  unsigned short close_code;  // 4401, 4403, 4429
  std::string message;        // full `error` envelope
};

template <class NextLayer>
class WsSession final : public ClientConnection,
                        public Closable,
                        public std::enable_shared_from_this<WsSession<NextLayer>> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  WsSession(NextLayer&& stream, GatewayContext& ctx, std::string remote_ip);
  ~WsSession() override;

  // Completes the upgrade for `req` and serves the connection until it closes. With a
  // refusal, sends it and closes instead of serving.
  boost::asio::awaitable<void> run(Request req, std::optional<VerifiedToken> token, std::optional<Refusal> refusal);

  // ClientConnection
  const Identity& identity() const override { return identity_; }
  bool begin_request(std::string_view id) override;
  void end_request(std::string_view id) override;
  void expect_queued(std::string_view id) override;
  void deliver(std::string_view request_id, MessageKind kind, std::string message) override;
  // Closable (thread-safe): flushes what is queued, then closes with `code`.
  void close(unsigned short code, std::string reason) override;

 private:
  boost::asio::awaitable<void> read_loop();
  void write_next();
  void on_written(boost::beast::error_code ec, std::size_t bytes);
  boost::asio::awaitable<void> control_loop();
  void on_deliver(std::string request_id, MessageKind kind, std::string message);
  void enqueue(const std::string& request_id, MessageKind kind, std::string message);
  void request_close(unsigned short code, std::string reason, bool discard_queue);
  void start_writer();
  void remember_terminal(const std::string& request_id);

  boost::beast::websocket::stream<NextLayer> ws_;
  GatewayContext& ctx_;
  std::string remote_ip_;
  Identity identity_;
  std::chrono::steady_clock::time_point token_expires_{std::chrono::steady_clock::time_point::max()};
  std::chrono::steady_clock::time_point lifetime_end_{};
  std::chrono::steady_clock::time_point last_seen_{};
  std::chrono::steady_clock::time_point next_ping_{};
  std::chrono::steady_clock::time_point write_started_{};

  boost::beast::flat_buffer buffer_;
  OutboundQueue queue_;
  TokenBucket message_rate_;
  boost::asio::steady_timer control_timer_;

  bool writing_ = false;
  std::string writing_message_;     // the message being written (kept alive until done)
  bool closing_ = false;            // close frame sent or being sent
  bool closed_ = false;             // reader finished
  std::optional<std::pair<unsigned short, std::string>> pending_close_;

  std::unordered_set<std::string> inflight_;  // requests holding a concurrency slot
  std::unordered_map<std::string, std::vector<std::pair<MessageKind, std::string>>> held_;  // awaiting `queued`
  std::list<std::string> recent_terminals_;  // terminal already sent: drop duplicates
  std::unordered_set<std::string> recent_terminal_set_;
};

}  // namespace streamer
