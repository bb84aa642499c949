#include "app/server_config.hpp"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace streamer::app {
namespace {

// Parses argv for a `serve`-like command with TOML and env applied as in main().
ServerConfig parse(std::vector<std::string> args) {
  ServerConfig c;
  CLI::App cmd;
  add_server_options(cmd, c);
  std::vector<char*> argv{const_cast<char*>("serve")};
  for (auto& a : args) argv.push_back(a.data());
  apply_config_sources(cmd, c, static_cast<int>(argv.size()), argv.data());
  cmd.parse(static_cast<int>(argv.size()), argv.data());
  finalize(c);
  return c;
}

TEST(ServerConfig, FlagsBeatEnvironmentWhichBeatsTheFile) {
  auto path = std::filesystem::temp_directory_path() / "streamer-config-test.toml";
  {
    std::ofstream out(path);
    out << "jwt_secret = \"from-file\"\nmax_messages_per_second = 7\nmax_concurrent_requests = 3\n"
           "listen = \"127.0.0.1:9001\"\n[handlers.generate_report]\ndatabase = \"own.db\"\n";
  }
  setenv("STREAMER_MAX_CONCURRENT_REQUESTS", "5", 1);
  auto c = parse({"--config", path.string(), "--max-messages-per-second", "9"});
  unsetenv("STREAMER_MAX_CONCURRENT_REQUESTS");
  EXPECT_EQ(c.jwt_secret, "from-file");
  EXPECT_EQ(c.gateway.max_messages_per_second, 9);  // flag
  EXPECT_EQ(c.gateway.max_concurrent_requests, 5);  // env over file
  EXPECT_EQ(c.gateway.port, 9001);                  // file
  EXPECT_EQ(c.public_url, "http://127.0.0.1:9001");
  EXPECT_EQ(c.handler_settings.at("generate_report").at("database").as_string(), "own.db");
}

TEST(ServerConfig, RejectsUnknownKeysAndMissingSecrets) {
  auto path = std::filesystem::temp_directory_path() / "streamer-config-bad.toml";
  {
    std::ofstream out(path);
    out << "jwt_secret = \"x\"\nno_such_setting = 1\n";
  }
  EXPECT_THROW(parse({"--config", path.string()}), std::invalid_argument);
  EXPECT_THROW(parse({}), std::invalid_argument);  // no JWT key at all
}

TEST(ServerConfig, RejectsATypoInAHandlerTable) {
  auto path = std::filesystem::temp_directory_path() / "streamer-config-handler-typo.toml";
  {
    std::ofstream out(path);
    out << "jwt_secret = \"x\"\n[handlers.generate_report]\ndatbase = \"own.db\"\n";
  }
  try {
    parse({"--config", path.string()});
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key datbase"), std::string::npos) << e.what();
  }
  {
    std::ofstream out(path);
    out << "jwt_secret = \"x\"\nhandlers = 3\n";
  }
  EXPECT_THROW(parse({"--config", path.string()}), std::invalid_argument);
}

TEST(ServerConfig, DefaultsMatchTheSeedLimits) {
  auto c = parse({"--jwt-secret", "s"});
  EXPECT_EQ(c.gateway.max_connections_per_minute, 100);
  EXPECT_EQ(c.gateway.max_messages_per_second, 100);
  EXPECT_EQ(c.gateway.max_concurrent_requests, 10);
  EXPECT_EQ(c.gateway.max_message_bytes, 1u << 20);
  EXPECT_EQ(c.gateway.stage, "production");
  EXPECT_EQ(c.gateway.ping_interval.count(), 30);
  EXPECT_EQ(c.gateway.idle_timeout.count(), 120);
  EXPECT_EQ(c.gateway.max_connection_lifetime.count(), 7200);
}

TEST(ServerConfig, StoreIsSqliteByDefaultOrAValidRedisUrl) {
  auto c = parse({"--jwt-secret", "s"});
  EXPECT_EQ(c.store, "sqlite");
  EXPECT_EQ(c.redis_partitions, 1);
  EXPECT_EQ(c.redis_wait_replicas, 0);
  setenv("STREAMER_STORE", "redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/jobs", 1);
  auto env = parse({"--jwt-secret", "s", "--redis-wait-replicas", "1"});
  unsetenv("STREAMER_STORE");
  EXPECT_EQ(env.store, "redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/jobs");
  EXPECT_EQ(env.redis_wait_replicas, 1);
  EXPECT_EQ(parse({"--jwt-secret", "s", "--store", "redis://h:6379/2"}).store, "redis://h:6379/2");
  for (const char* bad : {"postgres://h", "redis://h:0/0", "redis-sentinel://h:1"}) {
    EXPECT_THROW(parse({"--jwt-secret", "s", "--store", bad}), std::invalid_argument) << bad;
  }
  EXPECT_THROW(parse({"--jwt-secret", "s", "--redis-partitions", "0"}), std::invalid_argument);
}

TEST(ServerConfig, TheSharedConnectionLimitWaitsBrieflyAndBoundsItsQueue) {
  auto c = parse({"--jwt-secret", "s"});
  EXPECT_EQ(c.redis_connection_limit_wait_ms, 20);
  EXPECT_EQ(c.redis_connection_limit_max_waiting, 1024);
  setenv("STREAMER_REDIS_CONNECTION_LIMIT_WAIT_MS", "5", 1);
  auto env = parse({"--jwt-secret", "s", "--redis-connection-limit-max-waiting", "64"});
  unsetenv("STREAMER_REDIS_CONNECTION_LIMIT_WAIT_MS");
  EXPECT_EQ(env.redis_connection_limit_wait_ms, 5);
  EXPECT_EQ(env.redis_connection_limit_max_waiting, 64);
  EXPECT_THROW(parse({"--jwt-secret", "s", "--redis-connection-limit-wait-ms", "0"}),
               CLI::ParseError);
  EXPECT_THROW(parse({"--jwt-secret", "s", "--redis-connection-limit-max-waiting", "0"}),
               CLI::ParseError);
}

TEST(ServerConfig, DelayIsOffAndJobBoundsHaveDefaults) {
  auto c = parse({"--jwt-secret", "s", "--workers", "4"});
  EXPECT_FALSE(c.enable_delay);
  EXPECT_EQ(c.max_queued_per_tenant, 1000);
  EXPECT_EQ(c.max_queued_per_user, 200);
  EXPECT_EQ(c.max_running_per_tenant, 3);  // workers - 1
  EXPECT_EQ(parse({"--jwt-secret", "s", "--workers", "1"}).max_running_per_tenant, 1);
  auto set = parse({"--jwt-secret", "s", "--enable-delay", "--max-queued-per-tenant", "5",
                    "--max-queued-per-user", "0", "--max-running-per-tenant", "0"});
  EXPECT_TRUE(set.enable_delay);
  EXPECT_EQ(set.max_queued_per_tenant, 5);
  EXPECT_EQ(set.max_queued_per_user, 0);     // no bound
  EXPECT_EQ(set.max_running_per_tenant, 0);  // no bound
  EXPECT_THROW(parse({"--jwt-secret", "s", "--max-queued-per-user", "-1"}), std::invalid_argument);
  EXPECT_THROW(parse({"--jwt-secret", "s", "--disable-delay"}), CLI::ParseError);  // gone
}

TEST(ServerConfig, WaitingJobsHaveAPerTenantBoundOfTheirOwn) {
  EXPECT_EQ(parse({"--jwt-secret", "s"}).max_waiting_per_tenant, 15'000);  // 3/4 of 20,000
  EXPECT_EQ(parse({"--jwt-secret", "s", "--max-waiting-jobs", "1"}).max_waiting_per_tenant, 1);
  EXPECT_EQ(parse({"--jwt-secret", "s", "--max-waiting-per-tenant", "0"}).max_waiting_per_tenant,
            0);  // no bound
  EXPECT_THROW(parse({"--jwt-secret", "s", "--max-waiting-per-tenant", "-2"}), CLI::ParseError);
}

TEST(ServerConfig, ProxyProtocolIsOffAndNeedsTrustedProxies) {
  EXPECT_FALSE(parse({"--jwt-secret", "s"}).gateway.proxy_protocol);
  EXPECT_TRUE(parse({"--jwt-secret", "s", "--proxy-protocol", "--trusted-proxies", "10.0.0.0/8"})
                  .gateway.proxy_protocol);
  EXPECT_THROW(parse({"--jwt-secret", "s", "--proxy-protocol"}), std::invalid_argument);
}

}  // namespace
}  // namespace streamer::app
