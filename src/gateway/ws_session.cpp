#include "gateway/ws_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "core/json_text.hpp"
#include "core/log_event.hpp"
#include "core/protocol.hpp"
#include "core/request_id_peek.hpp"
#include "gateway/exact_allocator.hpp"
#include "gateway/frame_gather.hpp"

namespace streamer {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Logs a refused connection: its close code, the refusal's reason and the client's
// address (the PROXY protocol's client, else the TCP peer; the message names no token).
void log_refusal(const Refusal& refusal, const std::string& remote) {
  std::string reason = "unknown";
  std::error_code ec;
  auto msg = boost::json::parse(refusal.message, ec);
  if (!ec && msg.is_object()) {
    if (const auto* r = msg.get_object().if_contains("error"); r && r->is_object()) {
      if (const auto* d = r->get_object().if_contains("details"); d && d->is_object()) {
        if (const auto* why = d->get_object().if_contains("reason"); why && why->is_string())
          reason = std::string(why->get_string());
      }
    }
  }
  log_event(spdlog::level::info, "connection_refused",
            {{"close_code", refusal.close_code}, {"reason", reason}, {"remote", remote}});
}

// A close frame, or a write during a close, may take this long before the socket is
// closed regardless (the client stopped reading or never answers the close).
constexpr auto kCloseTimeout = std::chrono::seconds(10);
// Bytes read at once from a plain socket (into a per-thread buffer) or a TLS stream
// (into a buffer each wss:// connection holds while its read is pending: kept small,
// OpenSSL keeps the rest of a record for the next read).
constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kTlsChunk = 4 * 1024;

template <class Stream>
constexpr bool kPlain = std::is_same_v<Stream, tcp::socket>;

// The session whose received messages this thread is handling (in on_bytes(), on that
// session's strand), else null: a message delivered to it meanwhile (an inline
// handler's answer) is queued directly, with no hop through the strand.
thread_local const void* tls_feeding_session = nullptr;

tcp::socket& bare_socket(tcp::socket& s) { return s; }
tcp::socket& bare_socket(beast::tcp_stream& s) { return s.socket(); }

}  // namespace

template <class Stream>
WsSession<Stream>::WsSession(Stream&& stream, GatewayContext& ctx, std::string remote_ip,
                             int max_messages_per_second)
    : stream_(std::move(stream)),
      ctx_(ctx),
      remote_ip_(std::move(remote_ip)),
      heartbeat_(SteadyClock::now(), ctx.options.ping_interval, ctx.options.idle_timeout,
                 ctx.options.max_connection_lifetime),
      parser_(ctx.options.max_message_bytes),
      queue_(ctx.options.outbound_max_messages, ctx.options.outbound_max_bytes),
      max_messages_per_second_(max_messages_per_second),
      message_rate_(max_messages_per_second) {}

template <class Stream>
WsSession<Stream>::~WsSession() = default;

template <class Stream>
tcp::socket& WsSession<Stream>::socket() {
  return bare_socket(beast::get_lowest_layer(stream_));
}

template <class Stream>
void WsSession<Stream>::start(ServiceInterface& service, std::optional<VerifiedToken> token,
                              std::optional<Refusal> refusal, std::string early) {
  auto self = this->shared_from_this();
  if constexpr (kPlain<Stream>) {
    boost::system::error_code ec;
    stream_.non_blocking(true, ec);  // on_readable() reads without blocking
  }
  ctx_.sessions.add(self);
  if (refusal) {
    ctx_.metrics.connections_rejected++;
    log_refusal(*refusal, remote_ip_);
    enqueue("", MessageKind::kNotice, std::move(refusal->message));
    request_close(refusal->close_code, "refused", false);
  } else {
    session_ = service.open_session(std::move(token->identity), this->weak_from_this());
    heartbeat_.set_token_expiry(SteadyClock::now() +
                                std::chrono::duration_cast<SteadyClock::duration>(
                                    token->expires_at - std::chrono::system_clock::now()));
    counted_ = true;
    ctx_.metrics.connections_open++;
    ctx_.metrics.connections_total++;
    if (ctx_.draining.load()) request_close(1012, "server shutting down", false);
  }
  if (!early.empty()) on_bytes(early.data(), early.size());
  if (finished_) return;
  publish_due();
  pump_writes();
  if (!finished_) read_some();
}

// --- reading ---------------------------------------------------------------------------

// Plain: waits for readability only, so an idle connection holds no buffer; the bytes
// are then read into a per-thread buffer. TLS: a read into a buffer held meanwhile
// (readability of the socket says nothing about decrypted bytes already buffered).
template <class Stream>
void WsSession<Stream>::read_some() {
  auto self = this->shared_from_this();
  if constexpr (kPlain<Stream>) {
    stream_.async_wait(
        tcp::socket::wait_read,
        asio::bind_allocator(ExactAllocator<void>(),
                             [self](boost::system::error_code ec) { self->on_readable(ec); }));
  } else {
    tls_chunk_ = std::make_unique_for_overwrite<char[]>(kTlsChunk);
    stream_.async_read_some(asio::buffer(tls_chunk_.get(), kTlsChunk),
                            [self](boost::system::error_code ec, std::size_t n) {
                              auto chunk = std::move(self->tls_chunk_);
                              if (ec) return self->finish();
                              self->on_bytes(chunk.get(), n);
                              if (!self->finished_) self->read_some();
                            });
  }
}

template <class Stream>
void WsSession<Stream>::on_readable(boost::system::error_code ec) {
  if constexpr (kPlain<Stream>) {
    if (ec) return finish();
    static thread_local std::unique_ptr<char[]> chunk =
        std::make_unique_for_overwrite<char[]>(kChunk);
    // A few reads at most, then back to the reactor, so one busy client cannot hold
    // the thread.
    for (int i = 0; i < 4; ++i) {
      const std::size_t n = stream_.read_some(asio::buffer(chunk.get(), kChunk), ec);
      if (ec == asio::error::would_block) break;
      if (ec) return finish();  // EOF or reset
      on_bytes(chunk.get(), n);
      if (finished_) return;
      if (n < kChunk) break;  // most likely drained
    }
    read_some();
  }
}

// Every message in `data` is handled before anything is written: the answers given
// meanwhile (inline handlers answer at once) are gathered into one write.
template <class Stream>
void WsSession<Stream>::on_bytes(char* data, std::size_t n) {
  feeding_ = true;
  const void* outer = std::exchange(tls_feeding_session, this);
  parser_.feed(data, n, *this);  // after a close or a protocol error it ignores the rest
  tls_feeding_session = outer;
  feeding_ = false;
  if (!finished_) pump_writes();
}

template <class Stream>
void WsSession<Stream>::on_message(bool text, std::string_view payload) {
  const auto now = SteadyClock::now();
  heartbeat_.seen(now);
  ctx_.metrics.messages_in++;
  ctx_.metrics.bytes_in += payload.size();
  if (pending_close_) return;
  if (auto wait_ms = message_rate_.take(now)) return on_over_rate(payload, now, wait_ms);
  if (!text) {
    enqueue("", MessageKind::kNotice,
            protocol::error_message(
                std::nullopt, ErrorCode::kValidationError, "Binary frames are not supported",
                boost::json::object{{"expected", "text frame"}, {"received", "binary frame"}}));
  } else {
    if (session_) session_->on_frame(payload);
  }
}

// A message over the message rate is dropped without being parsed or run. Its id is
// looked for in its first 512 bytes only (peek_request_id), so a flood costs no parsing:
// with an id, it is answered RATE_LIMITED with that request_id, as every refused request
// is; without one, the client hears of it at most once per second (request_id null).
// Answers to over-rate messages are themselves bounded (kOverRateAnswers times the
// message rate per second; a client flooding beyond that gets the rest dropped
// silently), so a flood cannot make the server write without bound.
template <class Stream>
void WsSession<Stream>::on_over_rate(std::string_view payload, SteadyTime now,
                                     std::int64_t wait_ms) {
  constexpr auto kWindow = std::chrono::seconds(1);
  constexpr std::int64_t kOverRateAnswers = 10;
  ctx_.metrics.record_rate_limited("messages_per_second");
  if (now >= over_rate_window_end_) {
    over_rate_window_end_ = now + kWindow;
    over_rate_answers_ = 0;
  }
  if (over_rate_answers_ >= kOverRateAnswers * max_messages_per_second_) return;
  std::optional<std::string> id = protocol::peek_request_id(payload);
  if (!id) {
    if (now < rate_notice_quiet_) return;
    rate_notice_quiet_ = now + kWindow;
  }
  ++over_rate_answers_;
  enqueue(
      "", MessageKind::kNotice,
      protocol::rate_limited_message(id, "messages_per_second", max_messages_per_second_, wait_ms));
}

template <class Stream>
void WsSession<Stream>::on_message_begin() {
  message_deadline_ = SteadyClock::now() + ctx_.options.fragment_timeout;
  publish_due();
}

template <class Stream>
void WsSession<Stream>::on_ping(std::string_view payload) {
  heartbeat_.seen(SteadyClock::now());
  if (pending_close_) return;
  pong_payload_.assign(payload);  // only the latest ping needs an answer
  pong_due_ = true;
}

template <class Stream>
void WsSession<Stream>::on_pong() {
  heartbeat_.seen(SteadyClock::now());
}

// The client closes: answer with its code (after what is being written), then close.
template <class Stream>
void WsSession<Stream>::on_close(unsigned short code) {
  peer_closed_ = true;
  if (close_sent_) {
    if (!writing_) finish();  // else on_written() finishes
    return;
  }
  request_close(code, "", true);
}

template <class Stream>
void WsSession<Stream>::on_error(unsigned short code) {
  if (code == ws_close::kTooBig) ctx_.metrics.record_rate_limited("message_bytes");
  pending_close_.reset();  // a protocol error overrides a close we were about to send
  request_close(code, "", true);
}

// --- writing ---------------------------------------------------------------------------

// Writes until a write is in flight or nothing is left (a write the socket takes at
// once completes here), unless on_bytes() is still handling received messages.
template <class Stream>
void WsSession<Stream>::pump_writes() {
  while (!writing_ && !finished_ && !close_sent_ && !feeding_ && start_next_write()) {
  }
}

// Starts the next write, if any: a pong or ping first, then the queued messages
// gathered into one write, then (when requested) the close frame. False when there was
// nothing to write.
template <class Stream>
bool WsSession<Stream>::start_next_write() {
  if (pong_due_) {
    pong_due_ = false;
    write_frame(WsOpcode::kPong, std::exchange(pong_payload_, std::string()));
  } else if (ping_due_) {
    ping_due_ = false;
    write_frame(WsOpcode::kPing, std::string());
  } else if (!queue_.empty()) {
    write_queued();
  } else if (pending_close_) {
    close_sent_ = true;
    close_deadline_ = SteadyClock::now() + kCloseTimeout;
    publish_due();
    std::string payload;
    if (const auto code = pending_close_->first; code != ws_close::kNoStatus) {
      payload = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
      payload += pending_close_->second;
    }
    write_frame(WsOpcode::kClose, std::move(payload));
  } else {
    return false;
  }
  return true;
}

// One write for the oldest queued messages: as many as fit in one gathered write
// (its bytes bounded, so the memory of a write in flight stays bounded), or one
// message alone, sent from where it is (a large message is not copied).
template <class Stream>
void WsSession<Stream>::write_queued() {
  const Gathered g = gather_text_frames(queue_, out_payload_);
  out_messages_ = static_cast<std::uint16_t>(g.frames);
  if (!g.framed) {
    out_framing_ = 0;
    return start_write(WsOpcode::kText,
                       frame_header(WsOpcode::kText, out_payload_.size(), out_header_));
  }
  out_framing_ = static_cast<std::uint32_t>(out_payload_.size() - g.payload_bytes);
  start_write(WsOpcode::kText, 0);
}

template <class Stream>
void WsSession<Stream>::write_frame(WsOpcode opcode, std::string payload) {
  out_payload_ = std::move(payload);
  out_messages_ = opcode == WsOpcode::kText ? 1 : 0;
  out_framing_ = 0;
  start_write(opcode, frame_header(opcode, out_payload_.size(), out_header_));
}

// Sends out_header_'s first `header_bytes` bytes, then out_payload_. On a plain socket
// (non-blocking) it first sends what the kernel takes at once: when that is all of it,
// the write is complete here (written(), writing_ false again), with no asynchronous
// operation, completion handler or strand hop; the rest, if any, goes asynchronously.
template <class Stream>
void WsSession<Stream>::start_write(WsOpcode opcode, std::size_t header_bytes) {
  writing_ = true;
  write_started_ = write_progress_ = SteadyClock::now();
  std::array<asio::const_buffer, 2> buffers{asio::buffer(out_header_.data(), header_bytes),
                                            asio::buffer(out_payload_)};
  if constexpr (kPlain<Stream>) {
    boost::system::error_code ec;
    std::size_t sent = stream_.write_some(buffers, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      sent = 0;
    }
    if (ec || sent == header_bytes + out_payload_.size()) return written(ec, opcode);
    // Partly sent: the rest of the header (if any), then the rest of the payload.
    const std::size_t header_sent = std::min(sent, header_bytes);
    buffers = {asio::buffer(out_header_.data() + header_sent, header_bytes - header_sent),
               asio::buffer(out_payload_) + (sent - header_sent)};
  }
  if (const auto stall = write_progress_ + ctx_.options.send_timeout; stall < due()) set_due(stall);
  // The completion condition runs after every partial write: it records progress, so
  // a slow reader that keeps taking bytes is not mistaken for one that stopped.
  auto progress = [this](const boost::system::error_code& ec, std::size_t) -> std::size_t {
    write_progress_ = SteadyClock::now();
    return ec ? 0 : kChunk;
  };
  asio::async_write(
      stream_, buffers, progress,
      [self = this->shared_from_this(), opcode](boost::system::error_code ec, std::size_t) {
        self->on_written(ec, opcode);
      });
}

// An asynchronous write completed: account for it, then write what is next.
template <class Stream>
void WsSession<Stream>::on_written(boost::system::error_code ec, WsOpcode opcode) {
  written(ec, opcode);
  pump_writes();
}

// The write in flight is complete (or failed: the connection is finished).
template <class Stream>
void WsSession<Stream>::written(boost::system::error_code ec, WsOpcode opcode) {
  writing_ = false;
  if (ec) return finish();
  if (opcode == WsOpcode::kText) {
    ctx_.metrics.messages_out += out_messages_;
    ctx_.metrics.bytes_out += out_payload_.size() - out_framing_;
    ctx_.metrics.message_writes++;
  }
  // An idle connection holds no message (assigning an empty string would keep the
  // capacity).
  std::string().swap(out_payload_);
  if (opcode == WsOpcode::kClose) {
    if (peer_closed_) return finish();
    // Our close is out: send FIN too, so that even a client that ignores it sees the
    // end; keep reading until its close frame or EOF (or the close timeout).
    boost::system::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
}

// --- deadlines and closing -------------------------------------------------------------

template <class Stream>
void WsSession<Stream>::wake() {
  asio::post(stream_.get_executor(),
             [self = this->shared_from_this()] { self->check_deadlines(); });
}

template <class Stream>
void WsSession<Stream>::check_deadlines() {
  if (finished_) return;
  const auto now = SteadyClock::now();
  if (close_sent_) {
    if (now >= close_deadline_) return finish();
  } else if (pending_close_) {
    // Waiting for queued messages to go out before the close frame.
    if (writing_ && now - write_started_ >= kCloseTimeout)
      return finish();  // the client stopped reading
  } else if (writing_ && now - write_progress_ >= ctx_.options.send_timeout) {
    return abort_stalled_writer();
  } else if (parser_.in_message() && now >= message_deadline_) {
    request_close(ws_close::kPolicyViolation, "message not completed in time", true);
  } else {
    switch (heartbeat_.check(now)) {
      case Heartbeat::Due::kTokenExpired:
        enqueue("", MessageKind::kNotice,
                protocol::error_message(std::nullopt, ErrorCode::kUnauthorized, "Token expired",
                                        boost::json::object{{"reason", "token_expired"}}));
        request_close(4401, "token expired", false);
        break;
      case Heartbeat::Due::kLifetimeOver:
        request_close(1001, "maximum connection lifetime reached", false);
        break;
      case Heartbeat::Due::kIdle:
        request_close(1001, "idle timeout", true);
        break;
      case Heartbeat::Due::kPing:
        ping_due_ = true;
        break;
      case Heartbeat::Due::kNothing:
        break;
    }
    pump_writes();
  }
  publish_due();
}

// Tells the sweeper when to wake us next.
template <class Stream>
void WsSession<Stream>::publish_due() {
  if (close_sent_)
    set_due(close_deadline_);
  else if (pending_close_)
    set_due(write_started_ + kCloseTimeout);  // a write is in flight (else the close would be out)
  else {
    auto due = heartbeat_.next_due();
    if (writing_) due = std::min(due, write_progress_ + ctx_.options.send_timeout);
    if (parser_.in_message()) due = std::min(due, message_deadline_);
    set_due(due);
  }
}

// Output has been pending with no byte written for --send-timeout: the client does
// not read. It cannot read a close frame either, so the socket is reset (no FIN
// handshake, nothing left in the kernel's send buffer).
template <class Stream>
void WsSession<Stream>::abort_stalled_writer() {
  log_event(spdlog::level::warn, "send_timeout",
            {{"ip", remote_ip_},
             {"tenant", tenant()},
             {"queued", queue_.size()},
             {"queued_bytes", queue_.bytes()}});
  boost::system::error_code ignored;
  socket().set_option(tcp::socket::linger(true, 0), ignored);
  finish();
}

template <class Stream>
void WsSession<Stream>::request_close(unsigned short code, std::string reason, bool discard_queue) {
  if (pending_close_ || finished_) return;
  pending_close_.emplace(code, std::move(reason));
  if (discard_queue) {
    while (!queue_.empty()) queue_.pop();
  }
  pong_due_ = ping_due_ = false;
  pump_writes();
  publish_due();
}

template <class Stream>
void WsSession<Stream>::close(unsigned short code, std::string reason) {
  asio::post(stream_.get_executor(),
             [self = this->shared_from_this(), code, reason = std::move(reason)]() mutable {
               self->request_close(code, std::move(reason), false);
             });
}

// Closes the socket (which cancels what is pending) and leaves the registry.
template <class Stream>
void WsSession<Stream>::finish() {
  if (finished_) return;
  finished_ = true;
  boost::system::error_code ignored;
  socket().close(ignored);
  while (!queue_.empty()) queue_.pop();
  if (auto session = std::move(session_)) session->on_close();
  ctx_.sessions.remove(this);
  if (counted_) ctx_.metrics.connections_open--;
}

// --- delivery ----------------------------------------------------------------------

// From a handler this session's on_bytes() is running (this thread, this strand), the
// message is queued at once; on_bytes() starts the write when it is done. From
// anywhere else it goes through the strand.
template <class Stream>
void WsSession<Stream>::deliver(std::string_view request_id, MessageKind kind,
                                std::string message) {
  if (tls_feeding_session == this) {
    if (!close_sent_ && !finished_) enqueue(request_id, kind, std::move(message));
    return;
  }
  deliveries_pending_.fetch_add(1, std::memory_order_relaxed);
  asio::dispatch(
      stream_.get_executor(),
      [self = this->shared_from_this(), rid = std::string(request_id), kind,
       m = std::move(message)]() mutable { self->on_deliver(std::move(rid), kind, std::move(m)); });
}

// Queues the message. The last of the deliveries already handed to the strand starts
// the write, so that messages published together (a commit round's `queued` answers
// and results, a burst of progress) leave in one gathered write; a write in flight, or
// on_bytes() still handling received messages, defers it too.
template <class Stream>
void WsSession<Stream>::on_deliver(std::string request_id, MessageKind kind, std::string message) {
  const bool last = deliveries_pending_.fetch_sub(1, std::memory_order_relaxed) == 1;
  if (close_sent_ || finished_) return;
  enqueue(request_id, kind, std::move(message));
  if (last) pump_writes();
}

template <class Stream>
std::string_view WsSession<Stream>::tenant() const {
  return session_ ? std::string_view(session_->identity().tenant_id) : std::string_view();
}

template <class Stream>
void WsSession<Stream>::enqueue(std::string_view request_id, MessageKind kind,
                                std::string message) {
  switch (queue_.push(request_id, kind, std::move(message))) {
    case OutboundQueue::Push::kCoalesced:
      ctx_.metrics.progress_coalesced++;
      break;
    case OutboundQueue::Push::kOverflow:
      // Results alone overflow the bound: the client is too slow. It reconnects and
      // resubscribes to fetch them from the store.
      ctx_.metrics.slow_client_closes++;
      log_event(spdlog::level::warn, "slow_client",
                {{"ip", remote_ip_}, {"tenant", tenant()}, {"queued", queue_.size()}});
      request_close(1013, "client too slow; resubscribe", true);
      break;
    case OutboundQueue::Push::kQueued:
      break;
  }
}

template class WsSession<tcp::socket>;
template class WsSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace streamer
