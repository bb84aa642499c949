// The EventBus of a deployment whose gateways and workers are separate processes that
// share Redis. Each gateway owns one pub/sub channel, `ev:<gateway id>`; a request's
// subscribers are the gateways in the set `s:{p}:g:<job>`, and publishing runs one
// script that numbers the event (`s:{p}:n:<job>`) and PUBLISHes it to each of them.
// Cancels go out on the channel `ctl`, which every worker process listens to.
//
// Pub/sub delivers at most once: a dedicated thread holds the subscriber connection,
// pings its own channel every ping_interval and counts silence_limit without a
// message as a dead link. After any reconnect it subscribes again, registers every
// request its connections still follow, and re-reads each one (resync): a request
// that ended meanwhile gets its stored outcome, one that vanished a retryable
// INTERNAL_ERROR with details {reason: "lost_in_failover"}, so no connection waits
// forever for an event that was lost. The same resync runs when the server's
// master_replid changes (read with every ping and on every reconnect): a replica was
// promoted, and writes the old primary acknowledged may be missing from the new one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "jobs/event_bus.hpp"
#include "jobs/sequenced_fanout.hpp"
#include "redis/redis_client.hpp"

namespace streamer::redis {

struct RedisEventBusOptions {
  std::string process_id;        // unique per process: the gateway's channel name
  bool receive_events = true;    // a gateway: listens on its own channel
  bool receive_cancels = false;  // a worker: listens on `ctl`
  std::chrono::milliseconds ping_interval{1000};
  std::chrono::milliseconds silence_limit{10'000};
  std::chrono::milliseconds registration_ttl{
      std::chrono::hours(24)};  // of the gateway sets and counters
  // Reads a request's stored state after a reconnect (resync); unset: no resync.
  std::function<std::optional<JobRecord>(const JobKey&)> find;
  // The store's hash of a job (fields `st` and `fence`), when the store is this Redis:
  // progress is then published only while the publishing attempt's fence is current.
  // Unset: progress is published unchecked.
  std::function<std::string(std::string_view job_id)> fence_key;
  // The prefix of a request's keys (gateway set `g:`, event counter `n:`); unset: one of
  // 16 hash tags by the request. Every process sharing the bus must use the same.
  std::function<std::string(const JobKey&)> key_prefix;
  // This process' store registers it for the events of every job it creates (see
  // RedisJobStore::register_submitter): subscribe_for_submit registers nothing itself.
  bool submit_registers = false;
  // Stops a request running in this process (a worker's WorkerPool::cancel_local).
  std::function<void(const JobKey&)> on_cancel;
};

class RedisEventBus final : public EventBus {
 public:
  RedisEventBus(RedisUrl url, RedisEventBusOptions options);
  ~RedisEventBus() override;

  // Starts the subscriber thread and waits (at most `wait`) until its first
  // subscription is in place. Throws RedisConnectionError when Redis cannot be reached.
  void start(std::chrono::milliseconds wait = std::chrono::seconds(5));
  void stop();

  // Adds sink locally and returns at once: the calling (I/O) thread never waits for Redis.
  // The registrar thread then registers this gateway for key (SADD) and reads, in the
  // same script, how many events key has had. Every event numbered above that count
  // reaches sink by pub/sub; if events were published before the registration landed
  // (count above after_seq), the registrar re-reads the request and delivers what the
  // store has under that number: its outcome if it ended, else its latest progress. So
  // no terminal is missed and nothing older arrives after something newer.
  void subscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink,
                 std::uint64_t after_seq = 0) override;
  // Adds sink locally and registers in Redis on the calling thread before returning, with
  // no catch-up: the caller's snapshot, read after this returns, covers every earlier event.
  void subscribe_before_snapshot(const JobKey& key,
                                 const std::shared_ptr<MessageSink>& sink) override;
  // With submit_registers: adds sink locally only (the submit's script registers this
  // gateway atomically with the job's creation); else subscribe().
  void subscribe_for_submit(const JobKey& key, const std::shared_ptr<MessageSink>& sink) override;
  // Removes sink locally; the registrar drops the registration (SREM) once nobody here
  // follows key.
  void unsubscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink) override;
  // Numbers the event and sends it to every gateway registered for key (one script),
  // retrying once on a broken connection; a failure is logged, not thrown (the
  // gateways' resync reads what the store has).
  void publish(const JobKey& key, MessageKind kind, const std::string& message) override;
  // With fence_key set: one script checks that the job runs under `fence` and only then
  // numbers and publishes the event; a stale attempt's progress is dropped and counted.
  void publish_progress(const JobKey& key, std::string_view job_id, std::int64_t fence,
                        const std::string& message) override;
  void push_cancel(const JobKey& key) override;
  // Progress events dropped because their attempt's fence was no longer current.
  std::uint64_t stale_progress_dropped() const { return stale_progress_dropped_.load(); }

  // Waits (at most `limit`) until every subscribe and unsubscribe made so far has been
  // applied in Redis; true when they all were. For tests, and for callers that need the
  // registration itself rather than the catch-up.
  bool wait_registered(std::chrono::milliseconds limit);

  // Subscriber connections made so far (1 after start; each reconnect adds one).
  std::uint64_t connections() const { return connections_.load(); }
  std::size_t topic_count() const { return fanout_.topic_count(); }

 private:
  // Runs `script` (the plain or fenced publish) once more on a broken connection;
  // returns its answer, or nullopt (logged) when Redis could not be reached.
  std::optional<Reply> run_publish(const LuaScript& script, const std::vector<std::string>& keys,
                                   const std::vector<std::string>& args);
  std::string job_key(char kind, const JobKey& key) const;  // a request's `g:`/`n:` key
  void run();
  bool listen_once(bool first);  // one subscriber connection's life; false when stopping
  void handle_message(const std::string& channel, const std::string& payload);
  // Registers this gateway for key's events in Redis; the number of events key had at
  // that moment, or nullopt when Redis did not take it.
  std::optional<std::uint64_t> register_key(const JobKey& key);
  // The registrar thread: applies queued registrations and removals in order.
  void run_registrar();
  // After a registration that found `count` events already published: delivers the
  // stored outcome, or the stored progress numbered `count`.
  void catch_up(const JobKey& key, std::uint64_t count);
  // Registers every followed request again, then gives each connection what the store
  // has for a request that ended or vanished meanwhile.
  void resync();
  // Reads the server's master_replid (INFO replication); true when it differs from the
  // one seen before, i.e. a replica was promoted (or the server restarted) and writes
  // the old primary had acknowledged may be gone.
  bool replication_id_changed();

  RedisUrl url_;
  RedisEventBusOptions options_;
  RedisClient commands_;  // registrations, publishes, pings
  SequencedFanout fanout_;
  std::string event_channel_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> subscribed_{false};
  std::mutex subscribed_mutex_;                 // with subscribed_changed_: start() waits for
  std::condition_variable subscribed_changed_;  // the first subscription
  std::atomic<bool> resync_wanted_{false};      // a registration failed: resync at the next tick
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> stale_progress_dropped_{0};
  std::string replication_id_;  // the last master_replid seen (subscriber thread only)
  int wake_pipe_[2] = {-1, -1};
  std::thread thread_;
  struct Registration {
    JobKey key;
    std::uint64_t after_seq = 0;
    bool add = true;  // false: drop the registration
  };
  std::mutex registrations_mutex_;
  std::condition_variable registrations_changed_;
  std::deque<Registration> registrations_;  // guarded by registrations_mutex_
  std::size_t registrations_pending_ = 0;   // queued or being applied; same guard
  std::condition_variable registrations_applied_;
  std::thread registrar_;
};

// The wire form of one event on a gateway channel, and its parse (nullopt when
// malformed). Exposed for tests.
struct BusEvent {
  JobKey key;
  MessageKind kind = MessageKind::kNotice;
  std::uint64_t seq = 0;
  std::string message;
};
std::string encode_key(const JobKey& key);
std::optional<JobKey> decode_key(std::string_view text, std::size_t& used);
std::optional<BusEvent> parse_bus_event(std::string_view payload);

}  // namespace streamer::redis
