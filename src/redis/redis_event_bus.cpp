#include "redis/redis_event_bus.hpp"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <limits>

#include "core/log_event.hpp"
#include "core/protocol.hpp"
#include "redis/event_lua.hpp"

namespace streamer::redis {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kCancelChannel = "ctl";
constexpr std::string_view kPing = "ping";
constexpr std::uint64_t kAfterEverything = std::numeric_limits<std::uint64_t>::max();

// publish_event (event_lua.hpp) of one event: KEYS gateway set, counter; ARGV kind,
// key+message, counter TTL ms, terminal ('1'). Returns the event's number.
const LuaScript& publish_script() {
  static const LuaScript s(std::string(kPublishEventLua) + R"(
return publish_event(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1')
)");
  return s;
}

// publish_script() for a progress event, run only while the job's hash (KEYS[3], the
// store's, which may hash to another slot than the event keys: one primary holds both)
// says the job runs under fence ARGV[5]. Returns the number, or 0 when refused.
const LuaScript& fenced_publish_script() {
  static const LuaScript s(std::string(kPublishEventLua) + R"(
local v = redis.call('HMGET', KEYS[3], 'st', 'fence')
if v[1] ~= '1' or v[2] ~= ARGV[5] then return 0 end
return publish_event(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]), false)
)");
  return s;
}

// Adds a gateway to a request's set and keeps the set for at least half the registration
// TTL (re-armed, as the counter's, only once half of it is spent); returns
// how many events the request has had (its counter, KEYS[2]), atomically with the add:
// every later event reaches the gateway.
const LuaScript& register_script() {
  static const LuaScript s(R"(
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < ARGV[2] / 2 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return tonumber(redis.call('GET', KEYS[2]) or '0')
)");
  return s;
}

// CRC16-CCITT (XMODEM), Redis Cluster's slot hash; here it spreads jobs over 16 tags.
unsigned crc16(std::string_view s) {
  unsigned crc = 0;
  for (unsigned char ch : s) {
    crc ^= static_cast<unsigned>(ch) << 8;
    for (int i = 0; i < 8; ++i)
      crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

// `s:{p}:<kind>:<job>`: every key of one job shares the hash tag {p}.
std::string default_job_key(char kind, const JobKey& key) {
  const std::string topic = job_topic(key);
  return "s:{" + std::to_string(crc16(topic) % 16) + "}:" + kind + ':' + topic;
}

char kind_letter(MessageKind k) {
  switch (k) {
    case MessageKind::kReply:
      return 'r';
    case MessageKind::kQueued:
      return 'q';
    case MessageKind::kProgress:
      return 'p';
    case MessageKind::kTerminal:
      return 't';
    default:
      return 'n';
  }
}

std::optional<MessageKind> kind_of(char c) {
  switch (c) {
    case 'r':
      return MessageKind::kReply;
    case 'q':
      return MessageKind::kQueued;
    case 'p':
      return MessageKind::kProgress;
    case 't':
      return MessageKind::kTerminal;
    case 'n':
      return MessageKind::kNotice;
    default:
      return std::nullopt;
  }
}

// Reads "<digits>:" then that many bytes from text at pos.
std::optional<std::string> read_counted(std::string_view text, std::size_t& pos) {
  std::size_t n = 0, i = pos;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - pos < 10)
    n = n * 10 + (text[i++] - '0');
  if (i == pos || i >= text.size() || text[i] != ':' || text.size() - i - 1 < n)
    return std::nullopt;
  pos = i + 1 + n;
  return std::string(text.substr(i + 1, n));
}

// The `master_replid:` field of an INFO replication answer ("" when absent).
std::string master_replid(std::string_view info) {
  constexpr std::string_view kField = "master_replid:";
  std::size_t at = 0;
  while ((at = info.find(kField, at)) != std::string_view::npos) {
    if (at == 0 || info[at - 1] == '\n') {
      const std::size_t begin = at + kField.size();
      const std::size_t end = info.find_first_of("\r\n", begin);
      return std::string(info.substr(begin, end == std::string_view::npos ? end : end - begin));
    }
    at += kField.size();
  }
  return {};
}

// The terminal error of a request the store no longer has although this gateway still
// followed it: a failover promoted a replica that never received it.
std::string lost_in_failover(const JobKey& key) {
  return protocol::error_message(
      key.request_id, ErrorCode::kInternalError,
      "The request was lost in a Redis failover; submit it again with the same id",
      {{"reason", "lost_in_failover"}}, true);
}

}  // namespace

std::string encode_key(const JobKey& key) {
  std::string out;
  for (const std::string* part : {&key.tenant_id, &key.user_id, &key.request_id}) {
    out += std::to_string(part->size());
    out += ':';
    out += *part;
  }
  return out;
}

std::optional<JobKey> decode_key(std::string_view text, std::size_t& used) {
  std::size_t pos = 0;
  auto t = read_counted(text, pos);
  auto u = t ? read_counted(text, pos) : std::nullopt;
  auto r = u ? read_counted(text, pos) : std::nullopt;
  if (!r) return std::nullopt;
  used = pos;
  return JobKey{std::move(*t), std::move(*u), std::move(*r)};
}

std::optional<BusEvent> parse_bus_event(std::string_view payload) {
  if (payload.size() < 3) return std::nullopt;
  auto kind = kind_of(payload[0]);
  if (!kind) return std::nullopt;
  std::uint64_t seq = 0;
  std::size_t i = 1;
  while (i < payload.size() && payload[i] >= '0' && payload[i] <= '9' && i < 21)
    seq = seq * 10 + (payload[i++] - '0');
  if (i == 1 || i >= payload.size() || payload[i] != ' ' || seq == 0) return std::nullopt;
  std::size_t used = 0;
  auto key = decode_key(payload.substr(i + 1), used);
  if (!key) return std::nullopt;
  return BusEvent{std::move(*key), *kind, seq, std::string(payload.substr(i + 1 + used))};
}

RedisEventBus::RedisEventBus(RedisUrl url, RedisEventBusOptions options)
    : url_(std::move(url)),
      options_(std::move(options)),
      commands_(url_),
      event_channel_("ev:" + options_.process_id) {
  if (options_.process_id.empty()) throw std::invalid_argument("RedisEventBus needs a process id");
  if (pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe2 failed");
}

RedisEventBus::~RedisEventBus() {
  stop();
  close(wake_pipe_[0]);
  close(wake_pipe_[1]);
}

void RedisEventBus::start(std::chrono::milliseconds wait) {
  commands_.connect();  // throws when Redis is unreachable: refuse to start, not limp
  thread_ = std::thread([this] { run(); });
  registrar_ = std::thread([this] { run_registrar(); });
  bool subscribed = false;
  {
    std::unique_lock lock(subscribed_mutex_);
    subscribed = subscribed_changed_.wait_for(lock, wait, [this] { return subscribed_.load(); });
  }
  if (!subscribed) {
    stop();
    throw RedisConnectionError("redis: the event subscriber could not subscribe within " +
                               std::to_string(wait.count()) + " ms");
  }
}

void RedisEventBus::stop() {
  if (stopping_.exchange(true)) return;
  char b = 1;
  [[maybe_unused]] auto n = write(wake_pipe_[1], &b, 1);
  {
    std::lock_guard lock(registrations_mutex_);  // the registrar checks stopping_ under it
  }
  registrations_changed_.notify_all();
  if (registrar_.joinable()) registrar_.join();
  if (thread_.joinable()) thread_.join();
}

void RedisEventBus::subscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink,
                              std::uint64_t after_seq) {
  fanout_.subscribe(key, sink, after_seq);
  {
    std::lock_guard lock(registrations_mutex_);
    registrations_.push_back({key, after_seq, true});
    ++registrations_pending_;
  }
  registrations_changed_.notify_one();
}

std::string RedisEventBus::job_key(char kind, const JobKey& key) const {
  if (!options_.key_prefix) return default_job_key(kind, key);
  return options_.key_prefix(key) + kind + ':' + job_topic(key);
}

void RedisEventBus::subscribe_for_submit(const JobKey& key,
                                         const std::shared_ptr<MessageSink>& sink) {
  if (!options_.submit_registers) return subscribe(key, sink);
  fanout_.subscribe(key, sink, 0);
}

void RedisEventBus::subscribe_before_snapshot(const JobKey& key,
                                              const std::shared_ptr<MessageSink>& sink) {
  fanout_.subscribe(key, sink, 0);
  // On failure the subscriber thread registers every followed request again and re-reads
  // it from the store at its next tick.
  if (!register_key(key)) resync_wanted_ = true;
}

void RedisEventBus::unsubscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink) {
  fanout_.unsubscribe(key, sink);
  if (fanout_.has_subscribers(key)) return;
  {
    std::lock_guard lock(registrations_mutex_);
    registrations_.push_back({key, 0, false});
    ++registrations_pending_;
  }
  registrations_changed_.notify_one();
}

void RedisEventBus::run_registrar() {
  std::unique_lock lock(registrations_mutex_);
  while (true) {
    registrations_changed_.wait(lock,
                                [this] { return stopping_.load() || !registrations_.empty(); });
    if (stopping_.load()) return;
    std::deque<Registration> batch;
    batch.swap(registrations_);
    lock.unlock();
    for (const auto& r : batch) {
      // Whether anyone here still follows key decides, not the order of the requests.
      const bool followed = fanout_.has_subscribers(r.key);
      if (r.add && followed) {
        // On failure the subscriber thread registers every followed request again and
        // re-reads it from the store at its next tick.
        auto count = register_key(r.key);
        if (!count) {
          resync_wanted_ = true;
        } else if (*count > r.after_seq) {
          catch_up(r.key, *count);
        }
      } else if (!r.add && !followed) {
        try {
          commands_.command({"SREM", job_key('g', r.key), options_.process_id});
        } catch (const std::exception& e) {
          // Harmless: a stale registration costs one unanswered PUBLISH, and expires.
          log_event(spdlog::level::debug, "redis_bus_error",
                    {{"op", "unregister"}, {"error", e.what()}});
        }
      }
    }
    lock.lock();
    registrations_pending_ -= batch.size();
    registrations_applied_.notify_all();
  }
}

bool RedisEventBus::wait_registered(std::chrono::milliseconds limit) {
  std::unique_lock lock(registrations_mutex_);
  return registrations_applied_.wait_for(lock, limit,
                                         [this] { return registrations_pending_ == 0; });
}

void RedisEventBus::catch_up(const JobKey& key, std::uint64_t count) {
  if (!options_.find) return;
  std::optional<JobRecord> rec;
  try {
    rec = options_.find(key);
  } catch (const std::exception& e) {
    log_event(spdlog::level::warn, "redis_bus_error", {{"op", "catch_up"}, {"error", e.what()}});
    resync_wanted_ = true;
    return;
  }
  if (!rec) return;  // not stored yet (a submit in flight): its events are all to come
  if (is_terminal(rec->status)) {
    fanout_.deliver(key, MessageKind::kTerminal, kAfterEverything, rec->outcome_json);
    return;
  }
  if (rec->progress_json.empty()) return;
  boost::system::error_code ec;
  auto body = boost::json::parse(rec->progress_json, ec);
  if (ec || !body.is_object()) return;
  fanout_.deliver(key, MessageKind::kProgress, count, protocol::progress_message(body.as_object()));
}

std::optional<std::uint64_t> RedisEventBus::register_key(const JobKey& key) {
  for (int attempt = 1;; ++attempt) {
    try {
      return static_cast<std::uint64_t>(
          commands_
              .eval(register_script(), {job_key('g', key), job_key('n', key)},
                    {options_.process_id, std::to_string(options_.registration_ttl.count())})
              .as_int());
    } catch (const std::exception& e) {
      // The first command after a failover meets the connection to the old primary:
      // once more, on a fresh connection to the current one.
      if (attempt < 2 && dynamic_cast<const RedisConnectionError*>(&e)) continue;
      log_event(spdlog::level::warn, "redis_bus_error", {{"op", "register"}, {"error", e.what()}});
      return std::nullopt;
    }
  }
}

void RedisEventBus::publish(const JobKey& key, MessageKind kind, const std::string& message) {
  run_publish(publish_script(), {job_key('g', key), job_key('n', key)},
              {std::string(1, kind_letter(kind)), encode_key(key) + message,
               std::to_string(options_.registration_ttl.count()),
               kind == MessageKind::kTerminal ? "1" : "0"});
}

void RedisEventBus::publish_progress(const JobKey& key, std::string_view job_id, std::int64_t fence,
                                     const std::string& message) {
  if (!options_.fence_key) return publish(key, MessageKind::kProgress, message);
  std::string fence_key;
  try {
    fence_key = options_.fence_key(job_id);
  } catch (const std::exception& e) {  // not a job of this store: nothing can vouch for it
    log_event(spdlog::level::warn, "redis_bus_error", {{"op", "publish"}, {"error", e.what()}});
    return;
  }
  auto seq =
      run_publish(fenced_publish_script(), {job_key('g', key), job_key('n', key), fence_key},
                  {std::string(1, kind_letter(MessageKind::kProgress)), encode_key(key) + message,
                   std::to_string(options_.registration_ttl.count()), "0", std::to_string(fence)});
  if (seq && seq->as_int() == 0) {
    ++stale_progress_dropped_;
    log_event(spdlog::level::info, "stale_write_refused",
              {{"op", "publish_progress"}, {"job", job_id}, {"fence", fence}});
  }
}

std::optional<Reply> RedisEventBus::run_publish(const LuaScript& script,
                                                const std::vector<std::string>& keys,
                                                const std::vector<std::string>& args) {
  for (int attempt = 1;; ++attempt) {
    try {
      return commands_.eval(script, keys, args);
    } catch (const std::exception& e) {
      // Once more on a fresh connection; then the subscribers' resync is what recovers
      // a lost terminal (it is in the store).
      if (attempt < 2 && dynamic_cast<const RedisConnectionError*>(&e)) continue;
      log_event(spdlog::level::err, "redis_bus_error", {{"op", "publish"}, {"error", e.what()}});
      return std::nullopt;
    }
  }
}

void RedisEventBus::push_cancel(const JobKey& key) {
  try {
    commands_.command({"PUBLISH", std::string(kCancelChannel), encode_key(key)});
  } catch (const std::exception& e) {
    // The worker still sees the cancel at its next lease renewal (the store has it).
    log_event(spdlog::level::warn, "redis_bus_error", {{"op", "push_cancel"}, {"error", e.what()}});
  }
}

void RedisEventBus::run() {
  bool first = true;
  auto backoff = std::chrono::milliseconds(50);
  while (!stopping_.load()) {
    try {
      if (!listen_once(first)) return;
      backoff = std::chrono::milliseconds(50);
    } catch (const std::exception& e) {
      log_event(spdlog::level::warn, "redis_bus_error", {{"op", "subscribe"}, {"error", e.what()}});
    }
    first = false;
    pollfd wake{wake_pipe_[0], POLLIN, 0};
    poll(&wake, 1, static_cast<int>(backoff.count()));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
}

bool RedisEventBus::listen_once(bool first) {
  Endpoint ep;
  {
    RedisClient probe(url_);  // resolves the current primary through Sentinel
    probe.connect();
    ep = probe.connected_to().value_or(Endpoint{});
  }
  timeval tv{2, 0};
  std::unique_ptr<redisContext, void (*)(redisContext*)> c(
      redisConnectWithTimeout(ep.host.c_str(), ep.port, tv), redisFree);
  if (!c || c->err) throw RedisConnectionError("redis: subscriber cannot connect to " + ep.host);
  redisSetTimeout(c.get(), tv);
  auto run = [&](std::vector<std::string> argv, std::size_t replies) {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const auto& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(c.get(), static_cast<int>(argv.size()), ptrs.data(), lens.data());
    for (std::size_t i = 0; i < replies; ++i) {
      void* r = nullptr;
      if (redisGetReply(c.get(), &r) != REDIS_OK || !r)
        throw RedisConnectionError("redis: subscriber lost");
      bool err = static_cast<redisReply*>(r)->type == REDIS_REPLY_ERROR;
      std::string text = err ? std::string(static_cast<redisReply*>(r)->str) : "";
      freeReplyObject(r);
      if (err) throw RedisReplyError("redis: " + text);
    }
  };
  if (!url_.password.empty()) run({"AUTH", url_.password}, 1);
  std::vector<std::string> sub{"SUBSCRIBE", event_channel_};
  if (options_.receive_cancels) sub.emplace_back(kCancelChannel);
  run(sub, sub.size() - 1);
  ++connections_;
  {
    std::lock_guard lock(subscribed_mutex_);
    subscribed_ = true;
  }
  subscribed_changed_.notify_all();
  log_event(spdlog::level::info, "redis_bus_subscribed",
            {{"channel", event_channel_}, {"connections", connections_.load()}});
  // Whatever was published while no subscriber listened is lost: re-read every request.
  // A new replication id means a replica was promoted meanwhile.
  const bool promoted = replication_id_changed();
  if (!first || promoted) resync();

  auto last_heard = Clock::now();
  auto next_ping = Clock::now();
  while (!stopping_.load()) {
    const auto now = Clock::now();
    if (now >= next_ping) {
      try {
        commands_.command({"PUBLISH", event_channel_, std::string(kPing)});
      } catch (const std::exception&) {
        // The silence check below decides whether the link is dead.
      }
      next_ping = now + options_.ping_interval;
      bool promoted = false;
      try {
        promoted = replication_id_changed();
      } catch (const std::exception& e) {
        log_event(spdlog::level::debug, "redis_bus_error", {{"op", "replid"}, {"error", e.what()}});
      }
      if (promoted || resync_wanted_.load()) resync();
    }
    if (now - last_heard > options_.silence_limit) {
      log_event(
          spdlog::level::warn, "redis_bus_silent",
          {{"ms",
            std::chrono::duration_cast<std::chrono::milliseconds>(now - last_heard).count()}});
      return true;
    }
    void* r = nullptr;
    while (redisGetReplyFromReader(c.get(), &r) == REDIS_OK && r) {
      auto* rep = static_cast<redisReply*>(r);
      if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
          rep->element[1]->type == REDIS_REPLY_STRING &&
          rep->element[2]->type == REDIS_REPLY_STRING) {
        handle_message(std::string(rep->element[1]->str, rep->element[1]->len),
                       std::string(rep->element[2]->str, rep->element[2]->len));
      }
      freeReplyObject(r);
      r = nullptr;
      last_heard = Clock::now();
    }
    if (c->err) return true;
    pollfd fds[2] = {{c->fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    const auto wait_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_ping - Clock::now()).count();
    if (poll(fds, 2, static_cast<int>(std::max<long long>(1, wait_ms))) < 0) continue;
    if (fds[1].revents) return false;
    if (fds[0].revents && redisBufferRead(c.get()) != REDIS_OK) {
      spdlog::warn(R"({"event":"redis_bus_disconnected"})");
      return true;
    }
  }
  return false;
}

void RedisEventBus::handle_message(const std::string& channel, const std::string& payload) {
  if (channel == kCancelChannel) {
    std::size_t used = 0;
    if (auto key = decode_key(payload, used); key && options_.on_cancel) options_.on_cancel(*key);
    return;
  }
  if (payload == kPing) return;
  auto event = parse_bus_event(payload);
  if (!event) {
    spdlog::warn(R"({"event":"redis_bus_malformed"})");
    return;
  }
  fanout_.deliver(event->key, event->kind, event->seq, event->message);
}

bool RedisEventBus::replication_id_changed() {
  const std::string id = master_replid(commands_.command({"INFO", "replication"}).as_string());
  if (id.empty() || id == replication_id_) return false;
  const bool changed = !replication_id_.empty();
  if (changed) {
    log_event(spdlog::level::warn, "redis_failover_detected",
              {{"old_replid", replication_id_}, {"new_replid", id}});
  }
  replication_id_ = id;
  return changed;
}

void RedisEventBus::resync() {
  resync_wanted_ = false;
  const auto keys = fanout_.keys();
  for (const auto& key : keys) {
    if (!register_key(key)) resync_wanted_ = true;  // again at the next tick
  }
  if (!options_.find) return;
  std::size_t ended = 0, vanished = 0;
  for (const auto& key : keys) {
    std::optional<JobRecord> rec;
    try {
      rec = options_.find(key);
    } catch (const std::exception& e) {
      log_event(spdlog::level::warn, "redis_bus_error", {{"op", "resync"}, {"error", e.what()}});
      resync_wanted_ = true;  // unknown, not vanished: read it again at the next tick
      continue;
    }
    if (!rec) {
      ++vanished;
      fanout_.deliver(key, MessageKind::kTerminal, kAfterEverything, lost_in_failover(key));
    } else if (is_terminal(rec->status)) {
      ++ended;
      fanout_.deliver(key, MessageKind::kTerminal, kAfterEverything, rec->outcome_json);
    }
  }
  log_event(spdlog::level::info, "redis_bus_resync",
            {{"requests", keys.size()}, {"ended", ended}, {"vanished", vanished}});
}

}  // namespace streamer::redis
