// The client against a real redis-server (and a Sentinel) started for the test.
#include "redis/redis_client.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "redis/test_redis_server.hpp"

namespace streamer::redis {
namespace {
using namespace std::chrono_literals;

TEST(RedisClient, RunsCommandsAndCopiesReplies) {
  TestRedisServer server;
  RedisClient c(parse_redis_url(server.url(2)));
  EXPECT_EQ(c.command({"SET", "k", std::string("a\0b", 3)}).as_string(), "OK");
  EXPECT_EQ(c.command({"GET", "k"}).as_string(), std::string("a\0b", 3));
  EXPECT_TRUE(c.command({"GET", "missing"}).is_nil());
  EXPECT_EQ(c.command({"INCRBY", "n", "5"}).as_int(), 5);
  auto arr = c.command({"MGET", "k", "missing"});
  ASSERT_EQ(arr.type, Reply::Type::kArray);
  EXPECT_EQ(arr.elements.size(), 2u);
  // The URL's database was selected: database 0 does not see the key.
  RedisClient db0(parse_redis_url(server.url(0)));
  EXPECT_TRUE(db0.command({"GET", "k"}).is_nil());
  EXPECT_THROW(c.command({"INCR", "k"}), RedisReplyError);  // not an integer
}

TEST(RedisClient, EvalLoadsTheScriptOnNoscriptAndAgainAfterAFlush) {
  TestRedisServer server;
  RedisClient c(parse_redis_url(server.url()));
  LuaScript add("return tonumber(ARGV[1]) + redis.call('INCR', KEYS[1])");
  EXPECT_EQ(c.eval(add, {"x"}, {"10"}).as_int(), 11);
  EXPECT_EQ(c.command({"SCRIPT", "EXISTS", add.sha()}).elements.at(0).as_int(), 1);
  c.command({"SCRIPT", "FLUSH"});  // as after a restart or a failover
  EXPECT_EQ(c.eval(add, {"x"}, {"10"}).as_int(), 12);
  LuaScript failing("return redis.error_reply('STALE fence')");
  try {
    c.eval(failing, {}, {});
    FAIL();
  } catch (const RedisReplyError& e) {
    EXPECT_NE(std::string(e.what()).find("STALE fence"), std::string::npos);
  }
}

TEST(RedisClient, PipelineAnswersEveryCallInOrder) {
  TestRedisServer server;
  RedisClient c(parse_redis_url(server.url()));
  LuaScript push(
      "redis.call('RPUSH', KEYS[1], ARGV[1]) return ARGV[1] .. ':' .. "
      "redis.call('LLEN', KEYS[1])");
  std::vector<ScriptCall> calls;
  for (int i = 0; i < 40; ++i) calls.push_back({&push, {"list"}, {"v" + std::to_string(i)}});
  auto replies = c.eval_pipeline(calls);  // the script is not loaded yet: all NOSCRIPT first
  ASSERT_EQ(replies.size(), 40u);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(replies[i].as_string(), "v" + std::to_string(i) + ":" + std::to_string(i + 1));
  }
  EXPECT_EQ(c.command({"LINDEX", "list", "39"}).as_string(), "v39");
  replies = c.eval_pipeline(calls);  // loaded now: one round trip
  EXPECT_EQ(replies.back().as_string(), "v39:80");
  EXPECT_TRUE(c.eval_pipeline({}).empty());
}

TEST(RedisClient, PipelineLoadsAScriptAnsweredNoscriptInTheMiddle) {
  TestRedisServer server;
  RedisClient c(parse_redis_url(server.url()));
  LuaScript incr("return redis.call('INCR', KEYS[1])");
  LuaScript get("return 'got ' .. (redis.call('GET', KEYS[1]) or 'nil')");
  EXPECT_EQ(c.eval(incr, {"n"}, {}).as_int(), 1);  // loaded; `get` is not
  EXPECT_EQ(c.command({"SCRIPT", "EXISTS", get.sha()}).elements.at(0).as_int(), 0);
  auto replies = c.eval_pipeline({{&incr, {"n"}, {}}, {&get, {"other"}, {}}, {&incr, {"n"}, {}}});
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].as_int(), 2);
  EXPECT_EQ(replies[1].as_string(), "got nil");  // run again once loaded
  EXPECT_EQ(replies[2].as_int(), 3);
  EXPECT_EQ(c.command({"SCRIPT", "EXISTS", get.sha()}).elements.at(0).as_int(), 1);
}

TEST(RedisClient, PipelineThrowsAnErrorReplyAfterReadingEveryReply) {
  TestRedisServer server;
  RedisClient c(parse_redis_url(server.url()));
  LuaScript incr("return redis.call('INCR', KEYS[1])");
  LuaScript failing("return redis.error_reply('REFUSED here')");
  try {
    c.eval_pipeline({{&incr, {"n"}, {}}, {&failing, {}, {}}, {&incr, {"n"}, {}}});
    FAIL();
  } catch (const RedisReplyError& e) {
    EXPECT_NE(std::string(e.what()).find("REFUSED here"), std::string::npos);
  }
  // Both other calls ran, and the connection is still in step with its replies.
  EXPECT_EQ(c.command({"GET", "n"}).as_string(), "2");
}

TEST(RedisClient, PipelineOnAKilledConnectionThrowsAndTheNextCallReconnects) {
  TestRedisServer server;
  RedisClient c(parse_redis_url(server.url()));
  LuaScript incr("return redis.call('INCR', KEYS[1])");
  c.command({"PING"});
  RedisClient admin(parse_redis_url(server.url()));
  admin.command({"CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal"});
  EXPECT_THROW(c.eval_pipeline({{&incr, {"n"}, {}}, {&incr, {"n"}, {}}}), RedisConnectionError);
  EXPECT_EQ(c.eval_pipeline({{&incr, {"m"}, {}}}).at(0).as_int(), 1);
}

TEST(RedisClient, ReconnectsAfterTheConnectionIsKilled) {
  TestRedisServer server;
  RedisClient c(parse_redis_url(server.url()));
  c.command({"CLIENT", "SETNAME", "victim"});
  RedisClient admin(parse_redis_url(server.url()));
  admin.command({"CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal"});
  // The first command finds the connection broken and says so; the next reconnects.
  EXPECT_THROW(c.command({"PING"}), RedisConnectionError);
  EXPECT_EQ(c.command({"PING"}).as_string(), "PONG");
}

TEST(RedisClient, FailsClearlyWhenTheServerIsDown) {
  const int port = free_loopback_port();
  RedisClient c(parse_redis_url("redis://127.0.0.1:" + std::to_string(port)),
                {std::chrono::milliseconds(200), std::chrono::milliseconds(500)});
  try {
    c.command({"PING"});
    FAIL();
  } catch (const RedisConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(port)), std::string::npos);
  }
}

TEST(RedisClient, BlockingCommandWaitsLongerThanTheCommandTimeout) {
  TestRedisServer server;
  RedisClient c(parse_redis_url(server.url()), {1000ms, 200ms});
  auto start = std::chrono::steady_clock::now();
  auto r = c.blocking_command({"BLPOP", "nothing", "0.5"}, 500ms);
  EXPECT_TRUE(r.is_nil());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 450ms);
  EXPECT_EQ(c.command({"PING"}).as_string(), "PONG");  // the short timeout is back
}

TEST(RedisClient, SentinelUrlResolvesThePrimaryAndReResolvesOnReconnect) {
  TestRedisServer primary;
  TestRedisServer other;
  auto sentinel = TestRedisServer::sentinel_for(primary.port(), "mymaster");
  const std::string url = "redis-sentinel://127.0.0.1:" + std::to_string(free_loopback_port()) +
                          ",127.0.0.1:" + std::to_string(sentinel.port()) + "/mymaster";
  RedisClient c(parse_redis_url(url));  // the first Sentinel is down: the second answers
  c.command({"SET", "where", "primary"});
  EXPECT_EQ(c.connected_to()->port, primary.port());
  // Tell the Sentinel the primary is now `other` (as after a failover), then break the link.
  RedisClient s(parse_redis_url("redis://127.0.0.1:" + std::to_string(sentinel.port())));
  s.command({"SENTINEL", "REMOVE", "mymaster"});
  s.command({"SENTINEL", "MONITOR", "mymaster", "127.0.0.1", std::to_string(other.port()), "1"});
  RedisClient admin(parse_redis_url(primary.url()));
  admin.command({"CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal"});
  EXPECT_THROW(c.command({"PING"}), RedisConnectionError);
  EXPECT_TRUE(c.command({"GET", "where"}).is_nil());  // now on `other`
  EXPECT_EQ(c.connected_to()->port, other.port());
}

TEST(RedisClient, ServerNamedBySentinelMustAnswerRoleMasterAndIsAskedForAgainUntilItDoes) {
  TestRedisServer primary;
  TestRedisServer replica({"--replicaof", "127.0.0.1", std::to_string(primary.port())});
  // A stale Sentinel: it names the replica as the primary.
  auto sentinel = TestRedisServer::sentinel_for(replica.port(), "mymaster");
  const std::string url =
      "redis-sentinel://127.0.0.1:" + std::to_string(sentinel.port()) + "/mymaster";
  {
    RedisClientOptions quick;
    quick.primary_wait = 300ms;
    RedisClient c(parse_redis_url(url), quick);
    const auto started = std::chrono::steady_clock::now();
    EXPECT_THROW(c.command({"PING"}), NotPrimaryError);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms);  // it asked again meanwhile
    EXPECT_FALSE(c.connected_to());
  }
  // The replica is promoted while a client keeps asking: it connects once ROLE says master.
  RedisClient c(parse_redis_url(url));
  std::thread promote([&] {
    std::this_thread::sleep_for(400ms);
    RedisClient(parse_redis_url(replica.url())).command({"REPLICAOF", "NO", "ONE"});
  });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(c.command({"SET", "k", "v"}).as_string(), "OK");  // a write: it is a primary
  promote.join();
  EXPECT_GE(std::chrono::steady_clock::now() - started, 350ms);
  EXPECT_EQ(c.connected_to()->port, replica.port());
}

TEST(RedisClient, SentinelWithoutTheMasterNameFailsClearly) {
  TestRedisServer primary;
  auto sentinel = TestRedisServer::sentinel_for(primary.port(), "mymaster");
  RedisClient c(parse_redis_url("redis-sentinel://127.0.0.1:" + std::to_string(sentinel.port()) +
                                "/othername"));
  try {
    c.command({"PING"});
    FAIL();
  } catch (const RedisConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find("othername"), std::string::npos);
  }
}

}  // namespace
}  // namespace streamer::redis
