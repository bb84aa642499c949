#include "app/serve_command.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "app/deployment_mode.hpp"
#include "app/listen_address.hpp"
#include "app/logging.hpp"
#include "artifacts/artifact_store.hpp"
#include "auth/jwt_verifier.hpp"
#include "core/log_event.hpp"
#include "core/tenant_name.hpp"
#include "gateway/gateway_server.hpp"
#include "gateway/metrics_listener.hpp"
#include "handlers/admin/admin_http.hpp"
#include "handlers/admin/jobs_handlers.hpp"
#include "handlers/all_handlers.hpp"
#include "handlers/process/file_sandbox.hpp"
#include "jobs/in_process_event_bus.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "jobs/work_waiter.hpp"
#include "jobs/worker_pool.hpp"
#include "redis/redis_connection_limiter.hpp"
#include "redis/redis_event_bus.hpp"
#include "redis/redis_job_store.hpp"
#include "remote/remote_action_registry.hpp"
#include "remote/remote_actions.hpp"
#include "remote/remote_dispatcher.hpp"
#include "remote/worker_service.hpp"
#include "service/job_metrics.hpp"
#include "service/request_log.hpp"
#include "service/request_service.hpp"
#include "service/stats_feed.hpp"

namespace streamer::app {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// Gives an HTTP hook's answer once: give() passes it on; destroyed without one (its
// task was dropped: the pool is draining), it answers 503 so no request waits forever.
class AnswerOnce {
 public:
  explicit AnswerOnce(std::function<void(HttpAnswer)> done) : done_(std::move(done)) {}
  AnswerOnce(const AnswerOnce&) = delete;
  AnswerOnce& operator=(const AnswerOnce&) = delete;
  ~AnswerOnce() {
    if (done_)
      done_(HttpAnswer::json(
          503,
          R"({"error":{"code":"INTERNAL_ERROR","message":"server is draining","details":{"retryable":true}}})"));
  }
  void give(HttpAnswer answer) {
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(answer));
  }

 private:
  std::function<void(HttpAnswer)> done_;
};

// The contents of `path`; throws std::invalid_argument naming `what` (the flag or file
// role) and the system's reason when it cannot be read.
std::string read_file(const std::string& path, std::string_view what = "") {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::invalid_argument("cannot read " + (what.empty() ? "" : std::string(what) + " ") +
                                path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The artifact signing key: from config, else a random key kept (0600) in the data
// dir so URLs stay valid across restarts. Never in the repository.
std::string artifact_key(const ServerConfig& c) {
  if (!c.artifact_secret.empty()) return c.artifact_secret;
  fs::path path = fs::path(c.data_dir) / "artifact.key";
  if (fs::exists(path)) return read_file(path.string());
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1)
    throw std::runtime_error("no randomness for the artifact key");
  std::string hex;
  for (unsigned char b : raw) hex += fmt::format("{:02x}", b);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << hex;
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  return hex;
}

JwtConfig jwt_config(const ServerConfig& c) {
  JwtConfig j;
  j.hmac_secret = c.jwt_secret;
  if (!c.jwt_public_key_file.empty())
    j.public_key_pem = read_file(c.jwt_public_key_file, "--jwt-public-key");
  if (!c.jwt_jwks_file.empty()) j.jwks_json = read_file(c.jwt_jwks_file, "--jwt-jwks");
  j.issuer = c.jwt_issuer;
  j.audience = c.jwt_audience;
  j.leeway = std::chrono::seconds(c.jwt_leeway_seconds);
  return j;
}

std::string instance_id() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  return fmt::format("{}:{}:{:08x}", host, getpid(), rd());
}

// The job store --store names: SQLite in the data dir, or a Redis shared by many
// processes (throws with a clear message when that Redis cannot be used).
// Where events cross processes: --event-bus, else the Redis of --store, else nowhere
// ("": this process only).
std::string event_bus_url(const ServerConfig& c) {
  if (!c.event_bus.empty()) return c.event_bus;
  return redis::is_redis_url(c.store) ? c.store : std::string();
}

std::unique_ptr<JobStore> make_job_store(const ServerConfig& c) {
  if (c.store == "sqlite") {
    return std::make_unique<SqliteJobStore>(
        SqliteJobStoreOptions{fs::path(c.data_dir) / "jobs.db", c.sqlite_synchronous_full});
  }
  redis::RedisJobStoreOptions o;
  o.url = c.store;
  o.partitions = c.redis_partitions;
  o.result_ttl = std::chrono::seconds(c.result_ttl_seconds);
  o.wait_replicas = c.redis_wait_replicas;
  o.wait_timeout = std::chrono::milliseconds(c.redis_wait_timeout_ms);
  auto store = std::make_unique<redis::RedisJobStore>(o);
  // describe() leaves the password out.
  log_event(spdlog::level::info, "job_store",
            {{"kind", "redis"},
             {"url", redis::parse_redis_url(c.store).describe()},
             {"partitions", c.redis_partitions},
             {"wait_replicas", c.redis_wait_replicas}});
  return store;
}

// Everything both `serve` and `worker` run: store, handlers, workers, janitor.
struct Core {
  explicit Core(ServerConfig& c)
      : config(c),
        artifacts(ArtifactStoreOptions{fs::path(c.data_dir) / "artifacts", c.public_url,
                                       artifact_key(c),
                                       std::chrono::seconds(c.artifact_ttl_seconds)}),
        owned_store(make_job_store(c)),
        store(*owned_store) {
    env.data_dir = c.data_dir;
    env.artifacts = &artifacts;
    env.settings = c.handler_settings;
    store.set_limits({static_cast<std::size_t>(c.max_queued_per_tenant),
                      static_cast<std::size_t>(c.max_queued_per_user),
                      static_cast<std::size_t>(c.max_running_per_tenant),
                      static_cast<std::size_t>(c.progress_history_steps),
                      static_cast<std::size_t>(c.max_waiting_per_tenant)});
    register_all_handlers(registry,
                          {.enable_delay = c.enable_delay,
                           .fault_injection = c.enable_fault_injection,
                           .query = {.max_rows = c.query_max_rows,
                                     .max_result_bytes = c.query_max_result_bytes,
                                     .max_value_bytes = c.query_max_value_bytes,
                                     .time_limit = std::chrono::seconds(c.query_time_limit_seconds),
                                     .max_snapshot_rows = c.query_max_snapshot_rows},
                           .stream = {.max_bytes_per_tenant = c.max_stream_bytes_per_tenant}});

    WorkerPoolOptions w;
    w.workers = c.workers;
    w.instance_id = instance_id();
    w.lease_ttl = std::chrono::milliseconds(c.lease_ttl_ms);
    w.progress_interval = std::chrono::milliseconds(c.progress_interval_ms);
    w.parsed_handover_bytes = static_cast<std::size_t>(c.parsed_handover_mb) << 20;
    w.max_waiting_jobs = static_cast<std::size_t>(c.max_waiting_jobs);
    w.waiting_claim_batch = static_cast<std::size_t>(c.waiting_claim_batch);
    w.retry.base = std::chrono::milliseconds(c.retry_base_ms);
    w.fault_injection = c.enable_fault_injection;
    w.observer = &job_observers;
    if (c.store != "sqlite") {
      // A shared store wakes this pool when another process queues or gives back work
      // (WorkWaiter), and each look reports when the next queued job or lease is due: the
      // periodic look only backs those up, so an idle worker does not poll Redis each second.
      w.idle_poll = std::max(w.idle_poll, w.lease_ttl / 2);
    }
    bus = make_bus(c, w.instance_id);
    // A gateway-only process (--workers 0) keeps the pool for its group-committed
    // submits; it claims and runs nothing.
    workers = std::make_unique<WorkerPool>(store, *bus, registry, env, w);
    // A store shared across processes wakes this pool when another process queues or
    // gives back work, instead of leaving it to the pool's periodic look.
    if (c.store != "sqlite" && c.workers > 0) {
      waiter = std::make_unique<WorkWaiter>(store, [this] { workers->notify(); });
    }
    if (redis_bus) redis_bus->start();  // throws when Redis cannot be reached: refuse to start
  }
  ~Core() {
    if (redis_bus) redis_bus->stop();  // no cancel reaches the workers while they go
  }
  void start_workers() {
    workers->start();
    if (waiter) waiter->start();
  }
  void stop_workers(std::chrono::milliseconds grace) {
    if (waiter) waiter->stop();
    workers->stop(grace);
  }

  // The in-process bus, or the Redis one (--event-bus, or the --store Redis): events of
  // jobs run here reach the gateway holding their client, and cancels pushed by any
  // gateway stop them here.
  std::unique_ptr<EventBus> make_bus(const ServerConfig& c, const std::string& process_id) {
    const std::string url = event_bus_url(c);
    if (url.empty()) return std::make_unique<InProcessEventBus>();
    redis::RedisEventBusOptions o;
    o.process_id = process_id;
    // Also a gateway without workers: remote workers connected to it run jobs.
    o.receive_cancels = true;
    o.ping_interval = std::chrono::milliseconds(c.event_bus_ping_ms);
    o.silence_limit = std::chrono::milliseconds(c.event_bus_silence_ms);
    o.find = [this](const JobKey& key) { return store.find(key); };
    // Events and jobs in one Redis: a progress event is published only while its
    // attempt's fence is current.
    // Its keys are in the job's partition, and a submit registers this gateway in the
    // script that creates the job (no separate registration, nor catch-up read, per job).
    if (auto* shared = dynamic_cast<redis::RedisJobStore*>(&store); shared && url == c.store) {
      o.fence_key = [shared](std::string_view job_id) { return shared->job_hash_key(job_id); };
      o.key_prefix = [shared](const JobKey& key) { return shared->event_key_prefix(key); };
      o.submit_registers = true;
      shared->register_submitter(process_id, o.registration_ttl);
      // and, without replicas to wait for, the finish script publishes each outcome
      shared->publish_outcomes(o.registration_ttl);
    }
    o.on_cancel = [this](const JobKey& key) {
      if (workers) workers->cancel_local(key);
      if (auto* r = remote.load()) r->cancel_local(key);
    };
    auto b = std::make_unique<redis::RedisEventBus>(redis::parse_redis_url(url), std::move(o));
    redis_bus = b.get();
    return b;
  }

  // Deletes finished requests after --result-ttl (in Redis they expire by themselves;
  // this trims their index entries) and expired artifacts, every minute.
  void start_janitor() {
    janitor = std::thread([this] {
      std::unique_lock lock(janitor_mutex);
      do {
        try {
          auto now = std::chrono::system_clock::now();
          auto purged =
              store.purge_finished_before(now - std::chrono::seconds(config.result_ttl_seconds));
          auto removed = artifacts.remove_expired(now);
          if (purged || removed) {
            log_event(spdlog::level::info, "cleanup",
                      {{"requests_purged", purged}, {"artifacts_removed", removed}});
          }
        } catch (const std::exception& e) {
          log_event(spdlog::level::warn, "cleanup_failed", {{"error", e.what()}});
        }
      } while (
          !janitor_cv.wait_for(lock, std::chrono::minutes(1), [this] { return janitor_stop; }));
    });
  }
  void stop_janitor() {
    {
      std::lock_guard lock(janitor_mutex);
      janitor_stop = true;
    }
    janitor_cv.notify_all();
    if (janitor.joinable()) janitor.join();
  }

  ServerConfig& config;
  JobObserverFanOut job_observers;  // metrics and the stats feed (serve adds them)
  ArtifactStore artifacts;
  std::unique_ptr<JobStore> owned_store;
  JobStore& store;
  HandlerRegistry registry;
  HandlerEnvironment env;
  std::unique_ptr<EventBus> bus;
  redis::RedisEventBus* redis_bus = nullptr;  // bus, when it is the Redis one
  std::unique_ptr<WorkerPool> workers;        // runs nothing in a gateway-only process
  std::unique_ptr<WorkWaiter> waiter;
  std::atomic<remote::RemoteDispatcher*> remote{nullptr};  // serve's, once it runs
  std::thread janitor;
  std::mutex janitor_mutex;
  std::condition_variable janitor_cv;
  bool janitor_stop = false;
};

// The job-level series of /metrics: the job counters and histograms, and the queue
// depth and oldest queued age per action, read from the store at scrape time.
void add_job_series(Metrics& metrics, const JobMetrics& jobs, JobStore& store) {
  metrics.add_renderer([&jobs](std::string& out) { jobs.render(out); });
  metrics.add_renderer([&store](std::string& out) {
    std::vector<QueueStat> queues;
    bool store_up = true;
    try {
      queues = store.queue_stats({});
    } catch (const std::exception& e) {
      store_up = false;
      log_event(spdlog::level::warn, "store_error", {{"op", "queue_stats"}, {"error", e.what()}});
    }
    out += fmt::format(
        "# HELP streamer_store_up Whether the job store answered this scrape.\n"
        "# TYPE streamer_store_up gauge\nstreamer_store_up {}\n",
        store_up ? 1 : 0);
    const auto now = std::chrono::system_clock::now();
    out +=
        "# HELP streamer_jobs_queued Jobs waiting to run, by action.\n# TYPE streamer_jobs_queued "
        "gauge\n";
    for (const auto& q : queues)
      out += fmt::format("streamer_jobs_queued{{action=\"{}\"}} {}\n", q.action, q.queued);
    out +=
        "# HELP streamer_jobs_oldest_queued_age_seconds Age of the oldest waiting job, by action.\n"
        "# TYPE streamer_jobs_oldest_queued_age_seconds gauge\n";
    for (const auto& q : queues) {
      out += fmt::format(
          "streamer_jobs_oldest_queued_age_seconds{{action=\"{}\"}} {:.3f}\n", q.action,
          std::max(0.0, std::chrono::duration<double>(now - q.oldest_created_at).count()));
    }
  });
}

// Logging, the data directory, and a readable TLS pair: each failure is one line naming
// the setting and the reason.
void prepare(ServerConfig& c) {
  setup_logging(c.log_level, {static_cast<std::size_t>(c.log_buffer_bytes),
                              std::chrono::milliseconds(c.log_flush_ms)});
  std::error_code ec;
  fs::create_directories(c.data_dir, ec);
  if (ec) {
    throw std::invalid_argument("cannot create the data directory " + c.data_dir +
                                " (--data-dir): " + ec.message());
  }
  if (!c.gateway.tls_cert_file.empty()) read_file(c.gateway.tls_cert_file, "--tls-cert");
  if (!c.gateway.tls_key_file.empty()) read_file(c.gateway.tls_key_file, "--tls-key");
}

HttpAnswer artifact_answer(const ArtifactStore& artifacts, std::string_view target,
                           const Identity* caller) {
  auto r = artifacts.resolve(target, std::chrono::system_clock::now());
  auto deny = [](unsigned status, std::string_view code, std::string_view msg) {
    return HttpAnswer::json(
        status,
        json::serialize(json::object{{"error", json::object{{"code", code}, {"message", msg}}}}));
  };
  if (!r.artifact) {
    switch (r.denial) {
      case ArtifactDenial::kNotFound:
        return deny(404, "NOT_FOUND", "no such artifact");
      case ArtifactDenial::kExpired:
        return deny(403, "UNAUTHORIZED", "link expired");
      default:
        return deny(403, "UNAUTHORIZED", "invalid signature");
    }
  }
  // A signed URL is a capability; a caller who also shows a token of another tenant
  // is refused all the same (tenants never see each other's files).
  if (caller && tenant_storage_name(caller->tenant_id) != r.artifact->tenant_id)
    return deny(403, "UNAUTHORIZED", "other tenant");
  HttpAnswer a;
  a.content_type = r.artifact->content_type;
  a.file = r.artifact->file;
  a.content_disposition = r.artifact->content_disposition;
  return a;
}

// The gateway's upload sink over a file being written into the tenant's sandbox.
class SandboxUpload final : public UploadSink {
 public:
  explicit SandboxUpload(std::unique_ptr<process::UploadInProgress> file)
      : file_(std::move(file)) {}
  bool write(const char* data, std::size_t n) override { return file_->write(data, n); }
  HttpAnswer commit() override {
    auto out = file_->commit();
    return HttpAnswer::json(out.status, json::serialize(out.body));
  }

 private:
  std::unique_ptr<process::UploadInProgress> file_;
};

}  // namespace

int run_serve(ServerConfig& c) {
  check_event_delivery(ProcessRole::kServe, c.workers, !event_bus_url(c).empty());
  check_shared_artifacts(!event_bus_url(c).empty(), !c.artifact_secret.empty());
  prepare(c);
  JwtVerifier verifier(jwt_config(c));
  Core core(c);
  // Remote workers: their actions join the registry as they register; their jobs are in
  // store lanes of their own, which only the dispatcher claims.
  std::unique_ptr<remote::RemoteActions> remote_actions;
  std::unique_ptr<remote::RemoteActionRegistry> action_registry;  // outlives the dispatcher
  std::unique_ptr<remote::RemoteDispatcher> dispatcher;
  std::unique_ptr<remote::WorkerService> worker_service;
  {
    remote::RemoteActionsOptions actions;
    actions.allow_override = c.allow_remote_override;
    actions.max_actions = static_cast<std::size_t>(c.remote_max_actions);
    remote_actions = std::make_unique<remote::RemoteActions>(core.registry, std::move(actions));
    core.registry.set_dynamic(remote_actions.get());
    // Shared through the store: an action registered at any gateway is known at all.
    const auto ttl = std::chrono::milliseconds(c.remote_action_ttl_ms);
    action_registry = std::make_unique<remote::RemoteActionRegistry>(
        core.store, *remote_actions,
        remote::RemoteActionRegistryOptions{
            ttl, std::min(std::chrono::milliseconds(c.remote_poll_ms), ttl / 3)});
    remote::RemoteDispatcherOptions ro;
    ro.instance_id = instance_id() + "/remote";
    ro.lease_ttl = std::chrono::milliseconds(c.lease_ttl_ms);
    ro.progress_interval = std::chrono::milliseconds(c.progress_interval_ms);
    ro.poll_interval = std::chrono::milliseconds(c.remote_poll_ms);
    ro.retry.base = std::chrono::milliseconds(c.retry_base_ms);
    ro.max_credits = c.worker_max_concurrency;
    ro.max_actions_per_worker = static_cast<std::size_t>(c.worker_max_actions);
    ro.observer = &core.job_observers;  // remote jobs feed the job metrics and the stats feed
    ro.registry = action_registry.get();
    dispatcher = std::make_unique<remote::RemoteDispatcher>(core.store, *core.bus, *remote_actions,
                                                            std::move(ro));
    worker_service = std::make_unique<remote::WorkerService>(*dispatcher);
    core.remote = dispatcher.get();
  }
  admin::register_admin_handlers(core.registry, {core.store, *core.bus, core.workers.get(),
                                                 core.registry, &core.job_observers});
  Metrics metrics;
  JobMetrics job_metrics(c.metrics_per_tenant);
  StatsFeed stats_feed(core.store, metrics,
                       {.max_watchers = static_cast<std::size_t>(c.stats_max_watchers)});
  core.job_observers.add(&job_metrics);
  core.job_observers.add(&stats_feed);
  RequestLog request_log;
  core.job_observers.add(&request_log);
  metrics.set_job_observer(&core.job_observers);
  add_job_series(metrics, job_metrics, core.store);
  GatewayServer server(c.gateway, metrics, verifier);
  RequestService service(core.registry, core.store, *core.bus, *core.workers, core.env, metrics,
                         server.io().get_executor(),
                         RequestServiceOptions{c.sync_threads, c.gateway.max_concurrent_requests,
                                               c.max_sync_per_connection, &stats_feed,
                                               static_cast<std::uint32_t>(c.log_sync_success_every),
                                               [&dispatcher](const std::string& lane) {
                                                 if (dispatcher) dispatcher->notify(lane);
                                               },
                                               [&dispatcher](const JobKey& key) {
                                                 if (dispatcher) dispatcher->cancel_local(key);
                                               }});
  auto& ctx = server.context();
  ctx.service = &service;
  ctx.worker_service = worker_service.get();
  // With gateways sharing Redis, the per-address connection rate counts across all of them.
  std::unique_ptr<redis::RedisConnectionLimiter> shared_limiter;
  if (!event_bus_url(c).empty()) {
    shared_limiter = std::make_unique<redis::RedisConnectionLimiter>(
        redis::parse_redis_url(event_bus_url(c)), c.gateway.max_connections_per_minute,
        ctx.connection_limiter,
        redis::RedisConnectionLimiterOptions{
            .answer_wait = std::chrono::milliseconds(c.redis_connection_limit_wait_ms),
            .max_waiting = static_cast<std::size_t>(c.redis_connection_limit_max_waiting)});
    ctx.shared_connection_limiter = shared_limiter.get();
  }
  ctx.hooks.artifact = [&core](std::string_view target, const Identity* caller) {
    return artifact_answer(core.artifacts, target, caller);
  };
  // The admin HTTP routes read the store on the sync pool, all of them sharing one
  // connection's share of it.
  static const char admin_http_owner = 0;
  ctx.hooks.admin = [&core, &service](const Identity& who, const std::string& path,
                                      const std::string& query,
                                      std::function<void(HttpAnswer)> done) {
    auto reply = std::make_shared<AnswerOnce>(std::move(done));
    service.run_blocking(&admin_http_owner, [&core, reply, who, path, query] {
      try {
        auto a = admin::answer_admin_http(core.registry, core.env, who, path, query);
        reply->give(HttpAnswer::json(a.status, std::move(a.body)));
      } catch (const std::exception& e) {
        log_event(spdlog::level::err, "http_error", {{"error", e.what()}});
        reply->give(HttpAnswer::json(
            500, R"({"error":{"code":"INTERNAL_ERROR","message":"internal error"}})"));
      }
    });
  };
  ctx.hooks.upload = [&core](const Identity& who, std::string_view path) {
    auto start = process::begin_upload(core.env, who, path);
    if (!start.file)
      return UploadOpening{
          nullptr, HttpAnswer::json(start.refusal.status, json::serialize(start.refusal.body))};
    return UploadOpening{std::make_unique<SandboxUpload>(std::move(start.file)), {}};
  };
  metrics.add_gauge("streamer_workers", "Worker threads of this process (0: a gateway only).",
                    [&c] { return static_cast<double>(c.workers); });
  metrics.add_gauge("streamer_jobs_running", "Async requests running in this process.",
                    [&core] { return static_cast<double>(core.workers->running()); });

  try {
    server.listen();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(listen_failure_message(c.listen, e.code()));
  }
  MetricsListener metrics_listener(server.io(), metrics);
  if (!c.metrics_listen.empty()) {
    const ListenAddress at = parse_listen_address(c.metrics_listen);
    try {
      metrics_listener.listen(at.address, at.port);
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error(listen_failure_message(c.metrics_listen, e.code()));
    }
    log_event(spdlog::level::info, "metrics_listening",
              {{"address", at.address}, {"port", metrics_listener.port()}});
  }
  core.start_workers();
  if (action_registry) action_registry->start();
  if (dispatcher) dispatcher->start();
  core.start_janitor();
  log_event(spdlog::level::info, "listening",
            {{"address", c.gateway.address},
             {"port", server.port()},
             {"stage", c.gateway.stage},
             {"tls", !c.gateway.tls_cert_file.empty()},
             {"workers", c.workers},
             {"data_dir", c.data_dir}});

  // SIGTERM/SIGINT: stop accepting, finish sync work, leave async work in the store,
  // close connections with 1012, exit 0.
  std::thread drainer;
  boost::asio::signal_set signals(server.io(), SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    log_event(spdlog::level::info, "draining", {{"signal", sig}});
    drainer = std::thread([&] {
      server.context().draining = true;
      server.context().accepting = false;
      stats_feed.stop();                   // no more pushes
      service.drain();                     // sync requests in flight answer
      if (dispatcher) dispatcher->stop();  // remote jobs: `cancel` shutdown, back to the queue
      core.stop_workers(std::chrono::seconds(5));  // async jobs go back to the queue
      if (!server.drain())  // 1012 to every connection, waits until they are closed
        log_event(spdlog::level::warn, "drain_timeout",
                  {{"connections", server.context().sessions.size()}});
      server.stop();
    });
  });
  server.run();
  if (drainer.joinable()) drainer.join();
  if (action_registry) action_registry->stop();
  core.stop_janitor();
  log_event(spdlog::level::info, "stopped");
  return 0;
}

int run_worker(ServerConfig& c) {
  check_event_delivery(ProcessRole::kWorker, c.workers, !event_bus_url(c).empty());
  check_shared_artifacts(!event_bus_url(c).empty(), !c.artifact_secret.empty());
  prepare(c);
  Core core(c);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  core.start_workers();
  core.start_janitor();
  log_event(spdlog::level::info, "worker_started", {{"workers", c.workers}});
  int sig = 0;
  sigwait(&set, &sig);
  log_event(spdlog::level::info, "draining", {{"signal", sig}});
  core.stop_workers(std::chrono::seconds(5));
  core.stop_janitor();
  return 0;
}

}  // namespace streamer::app
