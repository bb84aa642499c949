#include "gateway/ws_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "core/json_text.hpp"
#include "core/protocol.hpp"

namespace streamer {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using SteadyClock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

template <class NextLayer>
WsSession<NextLayer>::WsSession(NextLayer&& stream, GatewayContext& ctx, std::string remote_ip)
    : ws_(std::move(stream)),
      ctx_(ctx),
      remote_ip_(std::move(remote_ip)),
      queue_(ctx.options.outbound_max_messages, ctx.options.outbound_max_bytes),
      message_rate_(ctx.options.max_messages_per_second),
      control_timer_(ws_.get_executor()) {}

template <class NextLayer>
WsSession<NextLayer>::~WsSession() = default;

template <class NextLayer>
asio::awaitable<void> WsSession<NextLayer>::run(Request req, std::optional<VerifiedToken> token,
                                                std::optional<Refusal> refusal) {
  const auto& opt = ctx_.options;
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::seconds(10);  // also bounds the close handshake
  timeouts.idle_timeout = websocket::stream_base::none();  // our control loop does heartbeats
  timeouts.keep_alive_pings = false;
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "streamer/" STREAMER_VERSION); }));
  ws_.read_message_max(opt.max_message_bytes);
  // Pings and pongs from the client count as signs of life for the idle timeout.
  ws_.control_callback([this](websocket::frame_type, beast::string_view) { last_seen_ = SteadyClock::now(); });
  ws_.auto_fragment(false);

  auto [ec] = co_await ws_.async_accept(req, kTuple);
  req = {};  // the upgrade request (and the token in it) is not kept for the session
  if (ec) co_return;

  const auto now = SteadyClock::now();
  last_seen_ = now;
  next_ping_ = now + opt.ping_interval;
  lifetime_end_ = now + opt.max_connection_lifetime;
  auto self = this->shared_from_this();

  if (refusal) {
    ctx_.metrics.connections_rejected++;
    enqueue("", MessageKind::kNotice, std::move(refusal->message));
    request_close(refusal->close_code, "refused", false);
    start_writer();
    co_await control_loop();
    co_return;
  }

  identity_ = std::move(token->identity);
  token_expires_ = now + std::chrono::duration_cast<SteadyClock::duration>(token->expires_at -
                                                                          std::chrono::system_clock::now());
  ctx_.metrics.connections_open++;
  ctx_.metrics.connections_total++;
  ctx_.sessions.add(self);
  if (ctx_.draining.load()) request_close(1012, "server shutting down", false);

  asio::co_spawn(ws_.get_executor(), [self]() { return self->control_loop(); }, asio::detached);
  co_await read_loop();

  closed_ = true;
  control_timer_.cancel();
  ctx_.sessions.remove(self);
  ctx_.metrics.connections_open--;
}

template <class NextLayer>
asio::awaitable<void> WsSession<NextLayer>::read_loop() {
  auto self = this->shared_from_this();
  for (;;) {
    auto [ec, n] = co_await ws_.async_read(buffer_, kTuple);
    if (ec) {
      if (ec == websocket::error::message_too_big) ctx_.metrics.record_rate_limited("message_bytes");
      break;
    }
    const auto now = SteadyClock::now();
    last_seen_ = now;
    ctx_.metrics.messages_in++;
    ctx_.metrics.bytes_in += n;
    if (!closing_ && !pending_close_) {
      std::string_view frame(static_cast<const char*>(buffer_.data().data()), buffer_.size());
      if (!ws_.got_text()) {
        enqueue("", MessageKind::kNotice,
                protocol::error_message(std::nullopt, ErrorCode::kValidationError, "Binary frames are not supported",
                                        boost::json::object{{"expected", "text frame"}, {"received", "binary frame"}}));
      } else if (auto wait_ms = message_rate_.take(now)) {
        ctx_.metrics.record_rate_limited("messages_per_second");
        auto parsed = protocol::parse_request(frame);
        std::optional<std::string> id;
        if (auto* r = std::get_if<protocol::Request>(&parsed)) id = r->id;
        if (auto* e = std::get_if<protocol::RequestError>(&parsed)) id = e->request_id;
        enqueue(id.value_or(""), MessageKind::kNotice,
                protocol::rate_limited_message(id, "messages_per_second", ctx_.options.max_messages_per_second, wait_ms));
      } else {
        ctx_.service->on_frame(self, frame);
      }
      start_writer();
    }
    // Free the frame's memory while waiting for the next one: most connections are
    // idle most of the time, and a malloc per message costs far less than holding it.
    buffer_.consume(buffer_.size());
    buffer_.shrink_to_fit();
  }
}

template <class NextLayer>
void WsSession<NextLayer>::start_writer() {
  if (writing_ || queue_.empty() || closing_) return;
  writing_ = true;
  write_next();
}

// One write in flight, chained by completion handlers (not a coroutine spawned per
// burst: initiating the write directly saves a trip through the scheduler per reply).
template <class NextLayer>
void WsSession<NextLayer>::write_next() {
  writing_message_ = queue_.pop();
  ws_.text(true);
  write_started_ = SteadyClock::now();
  ws_.async_write(asio::buffer(writing_message_),
                  [self = this->shared_from_this()](beast::error_code ec, std::size_t n) { self->on_written(ec, n); });
}

template <class NextLayer>
void WsSession<NextLayer>::on_written(beast::error_code ec, std::size_t bytes) {
  if (ec) {
    writing_ = false;
    return;
  }
  ctx_.metrics.messages_out++;
  ctx_.metrics.bytes_out += bytes;
  if (!queue_.empty() && !closing_) return write_next();
  writing_ = false;
  writing_message_ = std::string();
  if (pending_close_) control_timer_.cancel();  // the control loop closes once drained
}

template <class NextLayer>
asio::awaitable<void> WsSession<NextLayer>::control_loop() {
  auto self = this->shared_from_this();
  const auto& opt = ctx_.options;
  while (!closed_) {
    const auto now = SteadyClock::now();
    if (pending_close_ && !closing_) {
      if (!writing_) {
        closing_ = true;
        auto [code, reason] = *pending_close_;
        websocket::close_reason cr(static_cast<websocket::close_code>(code), reason);
        co_await ws_.async_close(cr, kTuple);
        co_return;
      }
      if (now - write_started_ > std::chrono::seconds(10)) {
        // The client stopped reading: the close frame could never be written.
        beast::error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
        co_return;
      }
    } else if (!pending_close_) {
      if (now >= token_expires_) {
        enqueue("", MessageKind::kNotice,
                protocol::error_message(std::nullopt, ErrorCode::kUnauthorized, "Token expired",
                                        boost::json::object{{"reason", "token_expired"}}));
        request_close(4401, "token expired", false);
        start_writer();
        continue;
      }
      if (now >= lifetime_end_) {
        request_close(1001, "maximum connection lifetime reached", false);
        continue;
      }
      if (now - last_seen_ >= opt.idle_timeout) {
        request_close(1001, "idle timeout", true);
        continue;
      }
      if (now >= next_ping_) {
        next_ping_ = now + opt.ping_interval;
        auto [ec] = co_await ws_.async_ping({}, kTuple);
        if (ec) co_return;
        continue;
      }
    }
    auto wake = std::min({next_ping_, token_expires_, lifetime_end_, last_seen_ + opt.idle_timeout});
    if (pending_close_) wake = now + std::chrono::seconds(1);
    control_timer_.expires_at(wake);
    co_await control_timer_.async_wait(kTuple);
  }
}

template <class NextLayer>
void WsSession<NextLayer>::request_close(unsigned short code, std::string reason, bool discard_queue) {
  if (pending_close_ || closing_) return;
  pending_close_.emplace(code, std::move(reason));
  if (discard_queue) {
    while (!queue_.empty()) queue_.pop();
  }
  control_timer_.cancel();
}

template <class NextLayer>
void WsSession<NextLayer>::close(unsigned short code, std::string reason) {
  auto self = this->shared_from_this();
  asio::post(ws_.get_executor(), [self, code, reason = std::move(reason)]() mutable {
    self->request_close(code, std::move(reason), false);
  });
}

template <class NextLayer>
bool WsSession<NextLayer>::begin_request(std::string_view id) {
  std::string key(id);
  if (inflight_.contains(key)) return true;
  if (static_cast<int>(inflight_.size()) >= ctx_.options.max_concurrent_requests) return false;
  inflight_.insert(std::move(key));
  return true;
}

template <class NextLayer>
void WsSession<NextLayer>::end_request(std::string_view id) {
  auto self = this->shared_from_this();
  asio::dispatch(ws_.get_executor(), [self, id = std::string(id)] { self->inflight_.erase(id); });
}

template <class NextLayer>
void WsSession<NextLayer>::expect_queued(std::string_view id) {
  held_.try_emplace(std::string(id));
}

template <class NextLayer>
void WsSession<NextLayer>::deliver(std::string_view request_id, MessageKind kind, std::string message) {
  auto self = this->shared_from_this();
  asio::dispatch(ws_.get_executor(), [self, rid = std::string(request_id), kind, m = std::move(message)]() mutable {
    self->on_deliver(std::move(rid), kind, std::move(m));
  });
}

template <class NextLayer>
void WsSession<NextLayer>::remember_terminal(const std::string& request_id) {
  if (recent_terminal_set_.insert(request_id).second) {
    recent_terminals_.push_back(request_id);
    if (recent_terminals_.size() > 256) {
      recent_terminal_set_.erase(recent_terminals_.front());
      recent_terminals_.pop_front();
    }
  }
}

template <class NextLayer>
void WsSession<NextLayer>::on_deliver(std::string request_id, MessageKind kind, std::string message) {
  if (closing_ || closed_) return;
  if (kind == MessageKind::kProgress || kind == MessageKind::kTerminal) {
    if (auto it = held_.find(request_id); it != held_.end()) {  // `queued` not sent yet
      it->second.emplace_back(kind, std::move(message));
      return;
    }
  }
  if (kind == MessageKind::kTerminal) {
    if (recent_terminal_set_.contains(request_id)) return;  // already delivered once here
    remember_terminal(request_id);
  }
  if (kind == MessageKind::kReply || kind == MessageKind::kTerminal) inflight_.erase(request_id);
  if (kind == MessageKind::kReply) held_.erase(request_id);  // an error instead of `queued`

  enqueue(request_id, kind, std::move(message));
  if (kind == MessageKind::kQueued) {
    if (auto it = held_.find(request_id); it != held_.end()) {
      auto held = std::move(it->second);
      held_.erase(it);
      for (auto& [k, m] : held) on_deliver(request_id, k, std::move(m));
    }
  }
  start_writer();
}

template <class NextLayer>
void WsSession<NextLayer>::enqueue(const std::string& request_id, MessageKind kind, std::string message) {
  switch (queue_.push(request_id, kind, std::move(message))) {
    case OutboundQueue::Push::kCoalesced:
      ctx_.metrics.progress_coalesced++;
      break;
    case OutboundQueue::Push::kOverflow:
      // Results alone overflow the bound: the client is too slow. It reconnects and
      // resubscribes to fetch them from the store.
      ctx_.metrics.slow_client_closes++;
      spdlog::warn(R"({{"event":"slow_client","ip":"{}","tenant":{},"queued":{}}})", remote_ip_,
                   json_quoted(identity_.tenant_id), queue_.size());
      request_close(1013, "client too slow; resubscribe", true);
      break;
    case OutboundQueue::Push::kQueued:
      break;
  }
}

template class WsSession<beast::tcp_stream>;
template class WsSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace streamer
