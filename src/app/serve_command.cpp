#include "app/serve_command.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <random>
#include <sstream>

#include "app/logging.hpp"
#include "artifacts/artifact_store.hpp"
#include "auth/jwt_verifier.hpp"
#include "core/tenant_name.hpp"
#include "gateway/gateway_server.hpp"
#include "handlers/builtin/builtin_handlers.hpp"
#include "handlers/process/file_sandbox.hpp"
#include "handlers/process/register.hpp"
#include "handlers/report/register.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "jobs/worker_pool.hpp"
#include "service/request_service.hpp"

namespace streamer::app {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read " + path);
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
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no randomness for the artifact key");
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
  if (!c.jwt_public_key_file.empty()) j.public_key_pem = read_file(c.jwt_public_key_file);
  if (!c.jwt_jwks_file.empty()) j.jwks_json = read_file(c.jwt_jwks_file);
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

// Everything both `serve` and `worker` run: store, handlers, workers, janitor.
struct Core {
  explicit Core(ServerConfig& c)
      : config(c),
        artifacts(ArtifactStoreOptions{fs::path(c.data_dir) / "artifacts", c.public_url, artifact_key(c),
                                       std::chrono::seconds(c.artifact_ttl_seconds)}),
        store(SqliteJobStoreOptions{fs::path(c.data_dir) / "jobs.db", c.sqlite_synchronous_full}) {
    env.data_dir = c.data_dir;
    env.artifacts = &artifacts;
    env.settings = c.handler_settings;
    register_builtin_handlers(
        registry, {.enable_delay = c.enable_delay, .fault_injection = c.enable_fault_injection});
    store.set_limits({static_cast<std::size_t>(c.max_queued_per_tenant),
                      static_cast<std::size_t>(c.max_queued_per_user),
                      static_cast<std::size_t>(c.max_running_per_tenant)});
    register_report_handlers(registry);
    register_process_handlers(registry, {.query = {.max_rows = c.query_max_rows,
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
    w.retry.base = std::chrono::milliseconds(c.retry_base_ms);
    w.fault_injection = c.enable_fault_injection;
    workers = std::make_unique<WorkerPool>(store, hub, registry, env, w);
  }

  // Deletes finished requests after --result-ttl and expired artifacts, every minute.
  void start_janitor() {
    janitor = std::thread([this] {
      std::unique_lock lock(janitor_mutex);
      do {
        try {
          auto now = std::chrono::system_clock::now();
          auto purged = store.purge_finished_before(now - std::chrono::seconds(config.result_ttl_seconds));
          auto removed = artifacts.remove_expired(now);
          if (purged || removed) {
            spdlog::info(R"({{"event":"cleanup","requests_purged":{},"artifacts_removed":{}}})", purged, removed);
          }
        } catch (const std::exception& e) {
          spdlog::warn(R"({{"event":"cleanup_failed","error":{}}})", json::serialize(json::value(e.what())));
        }
      } while (!janitor_cv.wait_for(lock, std::chrono::minutes(1), [this] { return janitor_stop; }));
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
  ArtifactStore artifacts;
  SqliteJobStore store;
  EventHub hub;
  HandlerRegistry registry;
  HandlerEnvironment env;
  std::unique_ptr<WorkerPool> workers;
  std::thread janitor;
  std::mutex janitor_mutex;
  std::condition_variable janitor_cv;
  bool janitor_stop = false;
};

void prepare(ServerConfig& c) {
  setup_logging(c.log_level);
  fs::create_directories(c.data_dir);
}

HttpAnswer artifact_answer(const ArtifactStore& artifacts, std::string_view target, const Identity* caller) {
  auto r = artifacts.resolve(target, std::chrono::system_clock::now());
  auto deny = [](unsigned status, std::string_view code, std::string_view msg) {
    return HttpAnswer{status, "application/json",
                      json::serialize(json::object{{"error", json::object{{"code", code}, {"message", msg}}}})};
  };
  if (!r.artifact) {
    switch (r.denial) {
      case ArtifactDenial::kNotFound: return deny(404, "NOT_FOUND", "no such artifact");
      case ArtifactDenial::kExpired: return deny(403, "UNAUTHORIZED", "link expired");
      default: return deny(403, "UNAUTHORIZED", "invalid signature");
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
    return HttpAnswer{out.status, "application/json", json::serialize(out.body)};
  }

 private:
  std::unique_ptr<process::UploadInProgress> file_;
};

}  // namespace

int run_serve(ServerConfig& c) {
  prepare(c);
  JwtVerifier verifier(jwt_config(c));
  Core core(c);
  Metrics metrics;
  GatewayServer server(c.gateway, metrics, verifier);
  RequestService service(core.registry, core.store, core.hub, core.workers.get(), core.env, metrics,
                         server.io().get_executor(),
                         RequestServiceOptions{c.sync_threads, c.gateway.max_concurrent_requests,
                                               c.max_sync_per_connection});
  auto& ctx = server.context();
  ctx.service = &service;
  ctx.hooks.artifact = [&core](std::string_view target, const Identity* caller) {
    return artifact_answer(core.artifacts, target, caller);
  };
  ctx.hooks.upload = [&core](const Identity& who, std::string_view path) {
    auto start = process::begin_upload(core.env, who, path);
    if (!start.file)
      return UploadOpening{nullptr, HttpAnswer{start.refusal.status, "application/json",
                                               json::serialize(start.refusal.body)}};
    return UploadOpening{std::make_unique<SandboxUpload>(std::move(start.file)), {}};
  };
  metrics.add_gauge("streamer_jobs_running", "Async requests running in this process.",
                    [&core] { return static_cast<double>(core.workers->running()); });

  server.listen();
  core.workers->start();
  core.start_janitor();
  spdlog::info(R"({{"event":"listening","address":"{}","port":{},"stage":"{}","tls":{},"workers":{},"data_dir":{}}})",
               c.gateway.address, server.port(), c.gateway.stage, c.gateway.tls_cert_file.empty() ? "false" : "true",
               c.workers, json::serialize(json::value(c.data_dir)));

  // SIGTERM/SIGINT: stop accepting, finish sync work, leave async work in the store,
  // close connections with 1012, exit 0.
  std::thread drainer;
  boost::asio::signal_set signals(server.io(), SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info(R"({{"event":"draining","signal":{}}})", sig);
    drainer = std::thread([&] {
      server.context().draining = true;
      server.context().accepting = false;
      service.drain();                                 // sync requests in flight answer
      core.workers->stop(std::chrono::seconds(5));     // async jobs go back to the queue
      server.drain();                                  // 1012 to every connection
      auto until = std::chrono::steady_clock::now() + c.gateway.drain_timeout;
      while (server.context().sessions.size() > 0 && std::chrono::steady_clock::now() < until) {
        std::unique_lock lock(core.janitor_mutex);
        core.janitor_cv.wait_for(lock, std::chrono::milliseconds(20));
      }
      server.stop();
    });
  });
  server.run();
  if (drainer.joinable()) drainer.join();
  core.stop_janitor();
  spdlog::info(R"({"event":"stopped"})");
  return 0;
}

int run_worker(ServerConfig& c) {
  prepare(c);
  Core core(c);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  core.workers->start();
  core.start_janitor();
  spdlog::info(R"({{"event":"worker_started","workers":{}}})", c.workers);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info(R"({{"event":"draining","signal":{}}})", sig);
  core.workers->stop(std::chrono::seconds(5));
  core.stop_janitor();
  return 0;
}

}  // namespace streamer::app
