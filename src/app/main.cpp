// `streamer`: serve | worker | token | call | seed-data. See README.md.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app/call_command.hpp"
#include "app/logging.hpp"
#include "app/serve_command.hpp"
#include "app/server_config.hpp"
#include "auth/jwt_verifier.hpp"
#include "handlers/report/sales_dataset.hpp"

namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  for (char ch : s) {
    if (ch == ',') {
      if (!item.empty()) out.push_back(item);
      item.clear();
    } else {
      item += ch;
    }
  }
  if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace streamer;
  CLI::App app{"Streamer: long-running requests over WebSockets", "streamer"};
  app.set_version_flag("--version", std::string(STREAMER_VERSION));
  app.require_subcommand(1);

  app::ServerConfig serve_config;
  auto* serve = app.add_subcommand("serve", "Run the gateway with in-process workers");
  app::add_server_options(*serve, serve_config);

  app::ServerConfig worker_config;
  auto* worker =
      app.add_subcommand("worker", "Run async workers only (same data dir / store as a gateway)");
  app::add_server_options(*worker, worker_config);

  MintOptions mint;
  std::string permissions = "read,write";
  std::string actions;
  std::int64_t ttl = 3600;
  auto* token = app.add_subcommand("token", "Print a development HS256 token");
  token->add_option("--jwt-secret", mint.secret, "HMAC secret (same as the server's)")
      ->required()
      ->envname("STREAMER_JWT_SECRET");
  token->add_option("--sub", mint.subject, "User id")->required();
  token->add_option("--tenant", mint.tenant_id, "Tenant id")->required();
  token->add_option("--permissions", permissions, "Comma-separated permissions")
      ->capture_default_str();
  token->add_option("--actions", actions,
                    "Comma-separated remote actions a worker token may serve (claim actions)");
  token->add_option("--ttl", ttl, "Lifetime in seconds")->capture_default_str();
  token->add_option("--issuer", mint.issuer, "iss claim");
  token->add_option("--audience", mint.audience, "aud claim");

  app::CallOptions call;
  auto* callc = app.add_subcommand("call", "Send one request and follow it to its result");
  callc->add_option("action", call.action, "Action, e.g. health")->required();
  callc->add_option("payload", call.payload_json, "Payload JSON object (default {})");
  callc->add_option("--url", call.url, "ws://HOST:PORT/production")
      ->required()
      ->envname("STREAMER_URL");
  callc->add_option("--token", call.token, "JWT")->required()->envname("STREAMER_TOKEN");
  callc->add_flag("--json", call.json_lines, "Print every message as a JSON line");
  callc->add_option("--timeout", call.timeout_s,
                    "Seconds to wait for the final answer (0: forever)");
  callc->add_option("--ca-file", call.ca_file, "Extra CA bundle for wss://");

  std::string seed_dir = "./data";
  std::string seed_tenant;
  std::int64_t seed_rows = 100000;
  std::uint64_t seed_value = 42;
  auto* seed = app.add_subcommand("seed-data", "Generate the demo sales dataset for a tenant");
  seed->add_option("--data-dir", seed_dir, "Data directory")
      ->capture_default_str()
      ->envname("STREAMER_DATA_DIR");
  seed->add_option("--tenant", seed_tenant, "Tenant id")->required();
  seed->add_option("--rows", seed_rows, "Sales rows")->capture_default_str();
  seed->add_option("--seed", seed_value, "Random seed")->capture_default_str();

  try {
    // TOML + environment as defaults under the flags, for serve and worker.
    if (argc > 1 && std::string_view(argv[1]) == "serve")
      app::apply_config_sources(*serve, serve_config, argc, argv);
    if (argc > 1 && std::string_view(argv[1]) == "worker")
      app::apply_config_sources(*worker, worker_config, argc, argv);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "streamer: " << e.what() << "\n";
    return 64;
  }

  try {
    if (*serve) {
      app::finalize(serve_config);
      return app::run_serve(serve_config);
    }
    if (*worker) {
      app::finalize(worker_config);
      return app::run_worker(worker_config);
    }
    if (*token) {
      mint.permissions = split_commas(permissions);
      if (!actions.empty()) mint.actions = split_commas(actions);
      mint.ttl = std::chrono::seconds(ttl);
      std::cout << mint_hs256_token(mint, std::chrono::system_clock::now()) << "\n";
      return 0;
    }
    if (*callc) return app::run_call_command(call);
    if (*seed) {
      auto r = seed_sales_data(seed_dir, seed_tenant, seed_rows, seed_value);
      std::cout << "seeded " << r.sales_rows << " sales, " << r.refund_rows << " refunds, "
                << r.target_rows << " targets for tenant " << seed_tenant << " in "
                << r.database.string() << " (" << r.seconds << " s)\n";
      return 0;
    }
  } catch (const std::invalid_argument& e) {
    app::flush_logs();  // the lines logged before it come first
    std::cerr << "streamer: " << e.what() << "\n";
    return 64;
  } catch (const std::exception& e) {
    app::flush_logs();
    std::cerr << "streamer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
