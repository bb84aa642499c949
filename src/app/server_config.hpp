// Everything `streamer serve` / `streamer worker` can be told, with its defaults.
// Sources, highest precedence first: command-line flags, STREAMER_<NAME> environment
// variables, the TOML file given with --config (keys are the flag names with
// underscores), built-in defaults. See docs/configuration.md.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "gateway/gateway_options.hpp"

namespace CLI {
class App;
}

namespace streamer::app {

struct ServerConfig {
  GatewayOptions gateway;
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./data";
  std::string public_url;  // default http(s)://<listen>

  // JWT
  std::string jwt_secret;
  std::string jwt_public_key_file;
  std::string jwt_jwks_file;
  std::string jwt_issuer;
  std::string jwt_audience;
  int jwt_leeway_seconds = 60;
  std::string allowed_tenants;  // comma-separated; empty = all

  // Jobs
  int workers = -1;                 // -1: one per core; 0: none (a gateway only)
  int sync_threads = 0;             // 0: one per core (at least 2)
  int max_sync_per_connection = 2;  // one connection's sync calls on the pool at once
  int lease_ttl_ms = 10'000;
  int progress_interval_ms = 100;
  int max_waiting_jobs = 20'000;  // jobs of waiting handlers running at once (0: on workers)
  int waiting_claim_batch = 512;  // most claims per look at the store for the waiting lane
  // Waiting jobs of one tenant leased at once (store-wide); -1: 3/4 of max_waiting_jobs
  // (at least 1); 0: no bound. Apart from max_running_per_tenant.
  int max_waiting_per_tenant = -1;
  int progress_history_steps = 100;  // progress steps kept per job for jobs.get (0: none)
  int parsed_handover_mb = 64;       // parsed async requests kept for this process's workers
  int result_ttl_seconds = 24 * 3600;
  int retry_base_ms = 500;
  bool sqlite_synchronous_full = false;
  // Where jobs live: "sqlite" (<data-dir>/jobs.db), or a Redis shared by many processes:
  // redis://HOST:PORT/DB or redis-sentinel://H1:P1,H2:P2/MASTER_NAME.
  std::string store = "sqlite";
  int redis_partitions = 1;         // hash slots jobs are spread over; the same in every process
  int redis_wait_replicas = 0;      // replicas that must confirm submits and outcomes (WAIT)
  int redis_wait_timeout_ms = 100;  // how long WAIT may take before the write counts as failed
  // Longest an I/O thread waits for the cross-gateway connection count in Redis before
  // the gateway's own per-address limiter decides.
  int redis_connection_limit_wait_ms = 20;
  // New connections that may wait for that count at once; beyond, the local limiter decides.
  int redis_connection_limit_max_waiting = 1024;
  bool enable_delay = false;  // the diagnostic `delay` handler (tests, benchmarks, demos)
  // Bounds on each tenant's async work (0: no bound). A submit beyond a queued bound
  // answers RATE_LIMITED; a tenant never holds more leased (running or about to run)
  // jobs than max_running_per_tenant, so other tenants always find a worker.
  int max_queued_per_tenant = 1000;
  int max_queued_per_user = 200;
  int max_running_per_tenant = -1;  // -1: workers - 1 (at least 1); 0: no bound
  bool enable_fault_injection = false;
  // Remote workers (/{stage}/workers).
  bool allow_remote_override = false;  // a worker may take over a built-in action name
  int remote_max_actions = 256;        // distinct remote actions registered in this process
  int worker_max_concurrency = 256;    // credits (jobs in flight) of one worker connection
  int worker_max_actions = 64;         // actions one worker connection may register
  int remote_poll_ms = 1'000;          // longest wait before a lapsed or retried job is claimed
  // A remote action stays known (shared registry) this long after its last worker left.
  int remote_action_ttl_ms = 30'000;
  std::uint64_t max_stream_bytes_per_tenant = 256ULL << 20;  // stream_append quota

  // process_data `query` source
  std::uint64_t query_max_rows = 5'000'000;
  std::uint64_t query_max_result_bytes = 256ull << 20;
  std::uint64_t query_max_value_bytes = 16ull << 20;
  int query_time_limit_seconds = 300;
  std::uint64_t query_max_snapshot_rows = 10'000'000;

  // Artifacts
  std::string artifact_secret;  // empty: a random key kept in <data-dir>/artifact.key
  int artifact_ttl_seconds = 7 * 24 * 3600;

  // Operations: metrics and the admin console's live feed
  bool metrics_per_tenant = false;  // job counts labelled by tenant (label cardinality)
  int stats_max_watchers = 64;      // stats.watch feeds running at once
  // HOST:PORT of a second listener serving only GET /metrics, without a token; "": none.
  std::string metrics_listen;

  // Scale-out: where events cross processes. "": this process only; redis://HOST:PORT or
  // redis-sentinel://H1:P1,H2:P2/MASTER: shared by gateways and `streamer worker`s.
  std::string event_bus;
  int event_bus_ping_ms = 1000;       // a gateway pings its own channel this often
  int event_bus_silence_ms = 10'000;  // then reconnects and resyncs after this much silence
  std::string log_level = "info";
  int log_sync_success_every = 1;    // successful sync requests logged: one in N (0: none)
  int log_buffer_bytes = 64 * 1024;  // a commit round's log lines held for one write (0: none)
  int log_flush_ms = 50;  // past 16 writes in this window, lines wait for its end (0: never)
  std::string config_file;

  // [handlers.<action>] tables of the TOML file, as JSON (handler settings).
  boost::json::object handler_settings;
};

// Declares every serve/worker flag on `cmd`, bound to `config`.
void add_server_options(CLI::App& cmd, ServerConfig& config);

// Applies TOML values (as defaults under env and flags) from the --config file named
// in argv or STREAMER_CONFIG, and attaches STREAMER_* environment names to every
// option of `cmd`. Call after add_server_options() and before parsing.
void apply_config_sources(CLI::App& cmd, ServerConfig& config, int argc, char** argv);

// Fills derived fields (gateway.address/port from listen, limits, public_url...).
// Throws std::invalid_argument with a clear message for inconsistent settings.
void finalize(ServerConfig& config);

}  // namespace streamer::app
