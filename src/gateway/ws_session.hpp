// One WebSocket connection after its upgrade: frames in (→ the service's
// ClientSession opened for the authenticated identity), messages out (one write in flight, bounded
// OutboundQueue behind it), pings and deadlines (woken by the gateway's sweeper, see
// SessionRegistry), and the close handshake. Everything runs on the connection's strand, so its
// state needs no locks; other threads reach it only through deliver()/close()/wake(), which post to
// the strand.
//
// Built for many idle connections: the framing is our own (ws_frames.hpp) on the bare
// socket, so an idle plain connection holds no read buffer, no pending read operation
// (only a wait for readability) and no timer or coroutine.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <optional>
#include <string>

#include "core/message_sink.hpp"
#include "gateway/gateway_context.hpp"
#include "gateway/heartbeat.hpp"
#include "gateway/outbound_queue.hpp"
#include "gateway/ws_frames.hpp"

namespace streamer {

// Why the connection is refused after the upgrade (sent as one `error`, then closed).
struct Refusal {
  unsigned short close_code;  // 4401, 4403, 4429
  std::string message;        // full `error` envelope
};

// `Stream`: boost::asio::ip::tcp::socket (ws://) or beast::ssl_stream<beast::tcp_stream> (wss://).
template <class Stream>
class WsSession final : public MessageSink,
                        public LiveSession,
                        private FrameSink,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  // max_messages_per_second: this connection's message rate (clients and workers differ).
  WsSession(Stream&& stream, GatewayContext& ctx, std::string remote_ip,
            int max_messages_per_second);
  ~WsSession() override;

  // Serves the connection whose upgrade was just answered, until it closes; returns at
  // once (the session keeps itself alive). With `token`, the client is authenticated;
  // with `refusal` instead, it is sent and the connection closed. `early` holds bytes
  // the client sent after its upgrade request, before our answer.
  // `service` opens the session of an admitted client (it outlives the connection).
  void start(ServiceInterface& service, std::optional<VerifiedToken> token,
             std::optional<Refusal> refusal, std::string early);

  // MessageSink: queues `message` on the connection's strand (coalescing progress per
  // request_id); dropped once the close frame is out.
  void deliver(std::string_view request_id, MessageKind kind, std::string message) override;
  // LiveSession
  void close(unsigned short code, std::string reason) override;
  void wake() override;

 private:
  // FrameSink (called by parser_ from on_bytes)
  void on_message(bool text, std::string_view payload) override;
  void on_message_begin() override;
  void on_ping(std::string_view payload) override;
  void on_pong() override;
  void on_close(unsigned short code) override;
  void on_error(unsigned short code) override;

  void read_some();
  void on_readable(boost::system::error_code ec);
  void on_bytes(char* data, std::size_t n);

  void pump_writes();
  bool start_next_write();
  void write_queued();
  void write_frame(WsOpcode opcode, std::string payload);
  void start_write(WsOpcode opcode, std::size_t header_bytes);
  void on_written(boost::system::error_code ec, WsOpcode opcode);
  void written(boost::system::error_code ec, WsOpcode opcode);

  void on_over_rate(std::string_view payload, SteadyTime now, std::int64_t wait_ms);
  void abort_stalled_writer();

  void check_deadlines();
  void publish_due();
  void request_close(unsigned short code, std::string reason, bool discard_queue);
  void finish();
  boost::asio::ip::tcp::socket& socket();

  std::string_view tenant() const;  // for log lines ("" for a refused connection)
  void on_deliver(std::string request_id, MessageKind kind, std::string message);
  void enqueue(std::string_view request_id, MessageKind kind, std::string message);

  Stream stream_;
  GatewayContext& ctx_;
  std::string remote_ip_;
  std::string tenant_;                      // for log lines
  std::shared_ptr<ClientSession> session_;  // while an authenticated connection is open
  Heartbeat heartbeat_;
  FrameParser parser_;
  OutboundQueue queue_;
  int max_messages_per_second_;
  TokenBucket message_rate_;
  std::unique_ptr<char[]> tls_chunk_;  // wss:// only: the buffer of the pending read

  // Writing: one write in flight: a pong or ping, or the queued messages gathered into
  // it (frame_gather.hpp), or the close frame. out_payload_ holds either the payload
  // behind out_header_ or, for a gathered write, complete frames (out_header_ unused).
  std::array<std::uint8_t, 10> out_header_{};
  std::uint16_t out_messages_ = 0;  // text messages in the write in flight
  std::uint32_t out_framing_ = 0;   // bytes of out_payload_ that are frame headers
  std::string out_payload_;
  std::string pong_payload_;
  SteadyTime write_started_{};
  SteadyTime write_progress_{};  // last time bytes of the frame in flight went out
  bool writing_ = false;
  bool pong_due_ = false;
  bool ping_due_ = false;
  bool feeding_ = false;  // inside on_bytes(): answers queue up and go out in one write after
  // deliver() calls not yet handled on the strand (any thread increments it).
  std::atomic<std::uint32_t> deliveries_pending_{0};

  // Closing: requested → close frame sent → peer's close frame or EOF → socket closed.
  std::optional<std::pair<unsigned short, std::string>> pending_close_;
  SteadyTime close_deadline_{};
  bool close_sent_ = false;
  bool peer_closed_ = false;
  bool finished_ = false;
  bool counted_ = false;  // an accepted connection, counted in connections_open

  SteadyTime message_deadline_{};       // while parser_.in_message(): the last fragment is due
  SteadyTime rate_notice_quiet_{};      // no other null-id over-rate notice before this
  SteadyTime over_rate_window_end_{};   // the current one-second window of over-rate answers
  std::int64_t over_rate_answers_ = 0;  // answers to over-rate messages in that window
};

}  // namespace streamer
