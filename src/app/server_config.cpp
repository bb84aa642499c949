#include "app/server_config.hpp"

#include "app/handler_settings.hpp"
#include "app/listen_address.hpp"

#include <toml++/toml.h>
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "gateway/client_address.hpp"
#include "redis/redis_url.hpp"

namespace streamer::app {
namespace json = boost::json;

void add_server_options(CLI::App& cmd, ServerConfig& c) {
  auto& g = c.gateway;
  // A flag given twice takes its last value (scripts append overrides).
  cmd.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd.add_option("--config", c.config_file, "TOML configuration file");
  cmd.add_option("--listen", c.listen, "HOST:PORT to listen on")->capture_default_str();
  cmd.add_option("--data-dir", c.data_dir, "Directory for the job store, artifacts and datasets")
      ->capture_default_str();
  cmd.add_option("--public-url", c.public_url,
                 "Base URL of this server as clients reach it (for artifact URLs)");
  cmd.add_option("--stage", g.stage, "WebSocket path: /{stage}")->capture_default_str();
  cmd.add_option("--tls-cert", g.tls_cert_file,
                 "PEM certificate chain (serve wss:// and https://)");
  cmd.add_option("--tls-key", g.tls_key_file, "PEM private key for --tls-cert");
  cmd.add_option("--io-threads", g.io_threads, "I/O threads (default: cores)");

  cmd.add_option("--jwt-secret", c.jwt_secret, "HMAC secret for HS256/384/512 tokens");
  cmd.add_option("--jwt-public-key", c.jwt_public_key_file,
                 "PEM public key (RSA or EC) for RS*/ES* tokens");
  cmd.add_option("--jwt-jwks", c.jwt_jwks_file, "JWKS file with public keys, selected by kid");
  cmd.add_option("--jwt-issuer", c.jwt_issuer, "Required `iss` claim");
  cmd.add_option("--jwt-audience", c.jwt_audience, "Required `aud` claim");
  cmd.add_option("--jwt-leeway", c.jwt_leeway_seconds, "Clock skew allowed for iat/nbf, seconds")
      ->capture_default_str();
  cmd.add_option("--allowed-tenants", c.allowed_tenants,
                 "Comma-separated tenants allowed to connect (default: all)");

  cmd.add_option("--max-connections-per-minute", g.max_connections_per_minute,
                 "New connections per minute per IP")
      ->capture_default_str();
  cmd.add_option(
      "--trusted-proxies", g.trusted_proxies,
      "Comma-separated proxy addresses or networks (10.0.0.0/8) whose X-Forwarded-For names the "
      "client address of the per-IP connection rate (default: none, the TCP peer counts)");
  cmd.add_flag("--proxy-protocol", g.proxy_protocol,
               "Connections from --trusted-proxies start with a PROXY protocol header (v1 or v2) "
               "naming the client address (off by default); a header from anyone else closes "
               "the connection");
  cmd.add_option("--max-messages-per-second", g.max_messages_per_second,
                 "Messages per second per connection")
      ->capture_default_str();
  cmd.add_option("--worker-max-messages-per-second", g.worker_max_messages_per_second,
                 "Messages per second per remote worker connection (/{stage}/workers)")
      ->capture_default_str();
  cmd.add_option("--max-concurrent-requests", g.max_concurrent_requests,
                 "Requests in flight per connection")
      ->capture_default_str();
  cmd.add_option("--max-message-bytes", g.max_message_bytes,
                 "Largest accepted message (larger: close 1009)")
      ->capture_default_str();
  cmd.add_option("--max-upload-bytes", g.max_upload_bytes, "Largest PUT /files body")
      ->capture_default_str();
  cmd.add_option("--max-uploads-per-user", g.max_uploads_per_user,
                 "Concurrent PUT /files per tenant+user (429)")
      ->capture_default_str();
  cmd.add_option("--max-uploads-per-address", g.max_uploads_per_address,
                 "Concurrent PUT /files per client IP (429)")
      ->capture_default_str();
  cmd.add_option("--header-timeout", g.header_timeout,
                 "Seconds an HTTP request header may take to arrive")
      ->capture_default_str();
  cmd.add_option("--upload-idle-timeout", g.upload_idle_timeout,
                 "Seconds an upload body may pause (then close; no total bound)")
      ->capture_default_str();
  cmd.add_option("--send-timeout", g.send_timeout,
                 "Close a connection whose pending output has not moved for this many seconds")
      ->capture_default_str();
  cmd.add_option("--fragment-timeout", g.fragment_timeout,
                 "Seconds a fragmented message may take to complete (1008)")
      ->capture_default_str();
  cmd.add_option("--ping-interval", g.ping_interval, "Seconds between server pings")
      ->capture_default_str();
  cmd.add_option("--idle-timeout", g.idle_timeout, "Close after this many silent seconds")
      ->capture_default_str();
  cmd.add_option("--max-connection-lifetime", g.max_connection_lifetime,
                 "Close with 1001 after this many seconds")
      ->capture_default_str();
  cmd.add_option("--drain-timeout", g.drain_timeout, "Seconds to wait for connections on SIGTERM")
      ->capture_default_str();
  cmd.add_option("--outbound-queue-messages", g.outbound_max_messages,
                 "Per-connection outgoing queue bound")
      ->capture_default_str();

  cmd.add_option("--workers", c.workers,
                 "Async worker threads (default -1: cores; 0: none, a gateway only)")
      ->capture_default_str();
  cmd.add_option("--sync-threads", c.sync_threads,
                 "Threads for sync handlers (default: cores, at least 2)");
  cmd.add_option("--max-sync-per-connection", c.max_sync_per_connection,
                 "Sync calls of one connection queued or running on the sync pool at once (the "
                 "rest wait their turn)")
      ->capture_default_str();
  cmd.add_option("--lease-ttl-ms", c.lease_ttl_ms,
                 "Job lease; a dead worker's job re-runs after it")
      ->capture_default_str();
  cmd.add_option("--progress-interval-ms", c.progress_interval_ms, "Progress coalescing interval")
      ->capture_default_str();
  cmd.add_option("--progress-history-steps", c.progress_history_steps,
                 "Progress steps kept per job (its latest; shown by jobs.get and the console; 0: "
                 "none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  cmd.add_option("--parsed-handover-mb", c.parsed_handover_mb,
                 "MB of parsed async requests kept for this process's workers (by payload size; "
                 "beyond it the oldest are parsed again from the store)")
      ->check(CLI::Range(0, 65536))
      ->capture_default_str();
  cmd.add_option("--max-waiting-jobs", c.max_waiting_jobs,
                 "Async jobs of waiting handlers (delay) running at once on the one waiting "
                 "thread, whatever --workers is (0: they take a worker thread each)")
      ->check(CLI::Range(0, 1'000'000))
      ->capture_default_str();
  cmd.add_option("--max-waiting-per-tenant", c.max_waiting_per_tenant,
                 "Jobs of waiting handlers of one tenant running at once, across the processes "
                 "sharing the store (default -1: 3/4 of --max-waiting-jobs, at least 1; 0: no "
                 "bound); they do not count towards --max-running-per-tenant")
      ->check(CLI::Range(-1, 1'000'000))
      ->capture_default_str();
  cmd.add_option("--waiting-claim-batch", c.waiting_claim_batch,
                 "Most jobs one look at the store claims for the waiting thread")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  cmd.add_option("--result-ttl", c.result_ttl_seconds, "Seconds finished requests stay retrievable")
      ->capture_default_str();
  cmd.add_option("--retry-base-ms", c.retry_base_ms,
                 "First retry delay (doubles per attempt, jittered)")
      ->capture_default_str();
  cmd.add_flag("--sqlite-synchronous-full", c.sqlite_synchronous_full,
               "fsync every commit (survives power loss; slower)");
  cmd.add_option("--store", c.store,
                 "Job store: sqlite, redis://HOST:PORT/DB or redis-sentinel://H1:P1,H2:P2/MASTER")
      ->capture_default_str();
  cmd.add_option("--redis-partitions", c.redis_partitions,
                 "Redis store: hash slots jobs are spread over by tenant (1..1024; the same in "
                 "every process)")
      ->capture_default_str();
  cmd.add_option("--redis-wait-replicas", c.redis_wait_replicas,
                 "Redis store: replicas that must confirm a submit or outcome before it is "
                 "acknowledged (WAIT; 0: none)")
      ->capture_default_str();
  cmd.add_option("--redis-wait-timeout-ms", c.redis_wait_timeout_ms,
                 "Redis store: how long the WAIT for replicas may take before the write fails")
      ->capture_default_str();
  cmd.add_option("--redis-connection-limit-wait-ms", c.redis_connection_limit_wait_ms,
                 "Redis mode: longest a new connection waits for the cross-gateway connection "
                 "rate in Redis before this gateway's own limiter decides")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd.add_option("--redis-connection-limit-max-waiting", c.redis_connection_limit_max_waiting,
                 "Redis mode: new connections that may wait for the cross-gateway connection "
                 "rate at once; beyond, this gateway's own limiter decides")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd.add_flag("--allow-remote-override", c.allow_remote_override,
               "Let remote workers register actions with built-in names (taking them over)");
  cmd.add_option("--remote-max-actions", c.remote_max_actions,
                 "Distinct remote actions workers may register in this process")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd.add_option("--worker-max-concurrency", c.worker_max_concurrency,
                 "Jobs one remote worker connection may hold at once (its credits)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd.add_option("--worker-max-actions", c.worker_max_actions,
                 "Actions one remote worker connection may register")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd.add_option(
         "--remote-poll-ms", c.remote_poll_ms,
         "Fallback look at the store for remote jobs no wake-up announced (a lease lapsed in a "
         "process that died)")
      ->check(CLI::Range(10, 600000))
      ->capture_default_str();
  cmd.add_option("--remote-action-ttl-ms", c.remote_action_ttl_ms,
                 "How long a remote action stays known to every gateway on the store after its "
                 "last worker disconnected (its queued jobs wait for the next worker)")
      ->check(CLI::Range(100, 86'400'000))
      ->capture_default_str();
  cmd.add_flag("--enable-delay", c.enable_delay,
               "Turn on the diagnostic `delay` handler (off by default)");
  cmd.add_option(
         "--max-queued-per-tenant", c.max_queued_per_tenant,
         "Async requests a tenant may have waiting to run (beyond: RATE_LIMITED; 0: no bound)")
      ->capture_default_str();
  cmd.add_option(
         "--max-queued-per-user", c.max_queued_per_user,
         "Async requests a user may have waiting to run (beyond: RATE_LIMITED; 0: no bound)")
      ->capture_default_str();
  cmd.add_option("--max-running-per-tenant", c.max_running_per_tenant,
                 "Async requests of one tenant running at once (default -1: workers - 1, at least "
                 "1; 0: no bound)")
      ->capture_default_str();
  cmd.add_flag("--enable-fault-injection", c.enable_fault_injection,
               "Test-only payload fields (delay.fail_attempts, time_limit_ms, echo.spin_ms)");
  cmd.add_option("--max-stream-bytes-per-tenant", c.max_stream_bytes_per_tenant,
                 "Bytes of stream records one tenant may store across its streams (stream_append)")
      ->capture_default_str();
  cmd.add_option("--query-max-rows", c.query_max_rows,
                 "process_data query source: most result rows")
      ->capture_default_str();
  cmd.add_option("--query-max-result-bytes", c.query_max_result_bytes,
                 "process_data query source: most bytes the result table may hold")
      ->capture_default_str();
  cmd.add_option("--query-max-value-bytes", c.query_max_value_bytes,
                 "process_data query source: largest string, blob or row inside SQLite")
      ->capture_default_str();
  cmd.add_option("--query-time-limit", c.query_time_limit_seconds,
                 "process_data query source: seconds for the snapshot build and the query")
      ->capture_default_str();
  cmd.add_option("--query-max-snapshot-rows", c.query_max_snapshot_rows,
                 "process_data query source: most rows of one tenant per dataset table")
      ->capture_default_str();
  cmd.add_option("--artifact-secret", c.artifact_secret,
                 "HMAC key for artifact URLs (default: random, kept in data dir)");
  cmd.add_option("--artifact-ttl", c.artifact_ttl_seconds, "Seconds an artifact URL stays valid")
      ->capture_default_str();
  cmd.add_option(
      "--event-bus", c.event_bus,
      "Redis shared by gateways and workers for events and cancels: redis://HOST:PORT or "
      "redis-sentinel://H1:P1,H2:P2/MASTER (default: this process only)");
  cmd.add_option("--event-bus-ping-ms", c.event_bus_ping_ms,
                 "Milliseconds between pings of the own event channel")
      ->capture_default_str();
  cmd.add_option(
         "--event-bus-silence-ms", c.event_bus_silence_ms,
         "Milliseconds without a message after which the event subscriber reconnects and resyncs")
      ->capture_default_str();
  cmd.add_option("--log-level", c.log_level, "trace, debug, info, warn, error, critical, off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cmd.add_option("--log-sync-success-every", c.log_sync_success_every,
                 "Log one in N successful sync requests at info (0: none; errors are always "
                 "logged)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  cmd.add_option("--log-buffer-bytes", c.log_buffer_bytes,
                 "Bytes of log lines of one commit round (its outcomes' request_finished "
                 "lines) held to be written together in one write (0: a write per line); "
                 "other lines, warnings and errors are written at once")
      ->capture_default_str()
      ->check(CLI::Range(0, 16 << 20));
  cmd.add_option("--log-flush-ms", c.log_flush_ms,
                 "Once 16 log writes were made within this many ms, further lines (below "
                 "warn) are held and written together when the window ends, so a busy "
                 "server makes a few writes per window instead of one per line (0: every "
                 "line is written at once)")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  cmd.add_option("--metrics-listen", c.metrics_listen,
                 "HOST:PORT of a second listener that serves only GET /metrics, without a token "
                 "(for a Prometheus on a private interface; default: none)");
  cmd.add_option("--metrics-token", c.gateway.metrics_token,
                 "Bearer token GET /metrics requires (empty: /metrics is open)");
  cmd.add_flag("--metrics-per-tenant", c.metrics_per_tenant,
               "Also count jobs per tenant in /metrics (one series per tenant)");
  cmd.add_option("--stats-max-watchers", c.stats_max_watchers,
                 "stats.watch feeds running at once (beyond: RATE_LIMITED)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
}

namespace {

// "max-messages-per-second" for an option named "--max-messages-per-second".
std::string long_name(const CLI::Option* opt) {
  auto names = opt->get_lnames();
  return names.empty() ? std::string() : names.front();
}

std::string env_name(std::string name) {
  for (auto& ch : name)
    ch = ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return "STREAMER_" + name;
}

std::string key_name(std::string name) {
  for (auto& ch : name) ch = ch == '-' ? '_' : ch;
  return name;
}

std::optional<std::string> toml_scalar(const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  if (auto b = node.value_exact<bool>()) return *b ? "true" : "false";
  if (auto i = node.value_exact<std::int64_t>()) return std::to_string(*i);
  if (auto d = node.value_exact<double>()) return std::to_string(*d);
  return std::nullopt;
}

json::value to_json(const toml::node& node) {
  if (auto* t = node.as_table()) {
    json::object o;
    for (const auto& [k, v] : *t) o[std::string(k.str())] = to_json(v);
    return o;
  }
  if (auto* a = node.as_array()) {
    json::array arr;
    for (const auto& v : *a) arr.push_back(to_json(v));
    return arr;
  }
  if (auto s = node.value_exact<std::string>()) return json::value(*s);
  if (auto b = node.value_exact<bool>()) return json::value(*b);
  if (auto i = node.value_exact<std::int64_t>()) return json::value(*i);
  if (auto d = node.value_exact<double>()) return json::value(*d);
  return nullptr;
}

std::string find_config_path(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--config" && i + 1 < argc) return argv[i + 1];
    if (a.starts_with("--config=")) return std::string(a.substr(9));
  }
  const char* env = std::getenv("STREAMER_CONFIG");
  return env ? env : "";
}

}  // namespace

void apply_config_sources(CLI::App& cmd, ServerConfig& config, int argc, char** argv) {
  std::string path = find_config_path(argc, argv);
  toml::table table;
  if (!path.empty()) {
    try {
      table = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      throw std::invalid_argument("cannot read config " + path + ": " +
                                  std::string(e.description()));
    }
    if (auto* node = table.get("handlers")) {
      if (!node->is_table())
        throw std::invalid_argument("config key handlers must be a table ([handlers.<action>])");
      config.handler_settings = to_json(*node).as_object();
      check_handler_settings(config.handler_settings);
    }
  }
  for (CLI::Option* opt : cmd.get_options()) {
    std::string name = long_name(opt);
    if (name.empty() || name == "help" || name == "config") continue;
    opt->envname(env_name(name));
    if (auto* node = table.get(key_name(name))) {
      auto value = toml_scalar(*node);
      if (!value) throw std::invalid_argument("config key " + key_name(name) + " must be a scalar");
      opt->default_str(*value);
      opt->default_val(*value);
    }
  }
  for (const auto& [k, v] : table) {
    std::string key(k.str());
    if (key == "handlers") continue;
    bool known = false;
    for (CLI::Option* opt : cmd.get_options()) known = known || key_name(long_name(opt)) == key;
    if (!known) throw std::invalid_argument("unknown config key: " + key);
  }
}

void finalize(ServerConfig& c) {
  if (!c.metrics_listen.empty()) {
    try {
      (void)parse_listen_address(c.metrics_listen);
    } catch (const std::invalid_argument& e) {  // the message names --listen: name this flag
      std::string why = e.what();
      if (why.starts_with("--listen")) why = "--metrics-listen" + why.substr(8);
      throw std::invalid_argument(why);
    }
  }
  const ListenAddress listen = parse_listen_address(c.listen);
  c.gateway.address = listen.address;
  c.gateway.port = listen.port;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (c.gateway.io_threads <= 0) c.gateway.io_threads = cores;
  if (c.workers < 0) c.workers = cores;
  if (c.sync_threads <= 0) c.sync_threads = std::max(2, cores);
  if (c.gateway.tls_cert_file.empty() != c.gateway.tls_key_file.empty()) {
    throw std::invalid_argument("--tls-cert and --tls-key go together");
  }
  if (c.public_url.empty()) {
    c.public_url = (c.gateway.tls_cert_file.empty() ? "http://" : "https://") + c.listen;
  }
  while (c.public_url.ends_with('/')) c.public_url.pop_back();
  if (c.max_queued_per_tenant < 0 || c.max_queued_per_user < 0 || c.max_running_per_tenant < -1) {
    throw std::invalid_argument(
        "--max-queued-per-tenant, --max-queued-per-user must be >= 0, "
        "--max-running-per-tenant >= -1");
  }
  if (c.max_running_per_tenant == -1) c.max_running_per_tenant = std::max(1, c.workers - 1);
  if (c.max_waiting_per_tenant == -1)
    c.max_waiting_per_tenant = std::max(1, c.max_waiting_jobs / 4 * 3);
  if (c.gateway.max_connections_per_minute < 1 || c.gateway.max_messages_per_second < 1 ||
      c.gateway.worker_max_messages_per_second < 1 || c.gateway.max_concurrent_requests < 1 ||
      c.gateway.max_message_bytes < 64 || c.max_sync_per_connection < 1 ||
      c.gateway.max_uploads_per_user < 1 || c.gateway.max_uploads_per_address < 1 ||
      c.gateway.header_timeout.count() < 1 || c.gateway.upload_idle_timeout.count() < 1 ||
      c.gateway.send_timeout.count() < 1 || c.gateway.fragment_timeout.count() < 1) {
    throw std::invalid_argument("limits must be positive");
  }
  // throws, naming the bad entry
  if (TrustedProxies::parse(c.gateway.trusted_proxies).empty() && c.gateway.proxy_protocol)
    throw std::invalid_argument(
        "--proxy-protocol needs --trusted-proxies (the proxies it comes from)");
  if (!c.event_bus.empty()) {
    redis::parse_redis_url(c.event_bus);  // throws, naming what is wrong
    if (c.event_bus_ping_ms < 1 || c.event_bus_silence_ms <= c.event_bus_ping_ms)
      throw std::invalid_argument(
          "--event-bus-ping-ms must be positive and below --event-bus-silence-ms");
  }
  if (c.query_max_rows < 1 || c.query_max_result_bytes < 1 || c.query_max_value_bytes < 1024 ||
      c.query_time_limit_seconds < 1 || c.query_max_snapshot_rows < 1) {
    throw std::invalid_argument(
        "--query-* limits must be positive (--query-max-value-bytes at least 1024)");
  }
  if (c.store != "sqlite") {
    if (!redis::is_redis_url(c.store)) {
      throw std::invalid_argument(
          "--store must be sqlite, redis://HOST:PORT/DB or "
          "redis-sentinel://H1:P1,H2:P2/MASTER_NAME");
    }
    try {
      redis::parse_redis_url(c.store);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("--store: ") + e.what());
    }
  }
  if (c.redis_partitions < 1 || c.redis_partitions > 1024 || c.redis_wait_replicas < 0 ||
      c.redis_wait_timeout_ms < 1) {
    throw std::invalid_argument(
        "--redis-partitions must be 1..1024, --redis-wait-replicas >= 0, "
        "--redis-wait-timeout-ms >= 1");
  }
  if (c.jwt_secret.empty() && c.jwt_public_key_file.empty() && c.jwt_jwks_file.empty()) {
    throw std::invalid_argument("one of --jwt-secret, --jwt-public-key or --jwt-jwks is required");
  }
  c.gateway.allowed_tenants.clear();
  std::string_view rest = c.allowed_tenants;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    if (!item.empty()) c.gateway.allowed_tenants.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
}

}  // namespace streamer::app
