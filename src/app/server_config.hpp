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
  int workers = 0;                       // 0: one per core
  int sync_threads = 0;                  // 0: one per core (at least 2)
  int lease_ttl_ms = 10'000;
  int progress_interval_ms = 100;
  int result_ttl_seconds = 24 * 3600;
  int retry_base_ms = 500;
  bool sqlite_synchronous_full = false;
  bool enable_delay = false;  // the diagnostic `delay` handler (tests, benchmarks, demos)
  // Bounds on each tenant's async work (0: no bound). A submit beyond a queued bound
  // answers RATE_LIMITED; a tenant never holds more leased (running or about to run)
  // jobs than max_running_per_tenant, so other tenants always find a worker.
  int max_queued_per_tenant = 1000;
  int max_queued_per_user = 200;
  int max_running_per_tenant = -1;  // -1: workers - 1 (at least 1); 0: no bound
  bool enable_fault_injection = false;

  // process_data `query` source
  std::uint64_t query_max_rows = 5'000'000;
  std::uint64_t query_max_result_bytes = 256ull << 20;
  std::uint64_t query_max_value_bytes = 16ull << 20;
  int query_time_limit_seconds = 300;
  std::uint64_t query_max_snapshot_rows = 10'000'000;

  // Artifacts
  std::string artifact_secret;           // empty: a random key kept in <data-dir>/artifact.key
  int artifact_ttl_seconds = 7 * 24 * 3600;

  std::string log_level = "info";
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
