#include "redis/redis_url.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace streamer::redis {
namespace {

TEST(RedisUrl, DirectWithDatabase) {
  auto u = parse_redis_url("redis://10.0.0.5:6380/3");
  EXPECT_FALSE(u.sentinel);
  ASSERT_EQ(u.hosts.size(), 1u);
  EXPECT_EQ(u.hosts[0], (Endpoint{"10.0.0.5", 6380}));
  EXPECT_EQ(u.db, 3);
  EXPECT_EQ(u.describe(), "redis://10.0.0.5:6380/3");
}

TEST(RedisUrl, DefaultsPortAndDatabase) {
  auto u = parse_redis_url("redis://cache");
  EXPECT_EQ(u.hosts[0], (Endpoint{"cache", 6379}));
  EXPECT_EQ(u.db, 0);
}

TEST(RedisUrl, SentinelListAndMasterName) {
  auto u = parse_redis_url("redis-sentinel://s1:26379,s2:26380/mymaster");
  EXPECT_TRUE(u.sentinel);
  EXPECT_EQ(u.hosts, (std::vector<Endpoint>{{"s1", 26379}, {"s2", 26380}}));
  EXPECT_EQ(u.master_name, "mymaster");
  EXPECT_EQ(u.db, 0);
  EXPECT_EQ(parse_redis_url("redis-sentinel://s1:26379/m/2").db, 2);
}

TEST(RedisUrl, PasswordIsKeptButNeverDescribed) {
  auto u = parse_redis_url("redis://:s3cret@h:1/0");
  EXPECT_EQ(u.password, "s3cret");
  EXPECT_EQ(u.describe().find("s3cret"), std::string::npos);
}

TEST(RedisUrl, RejectsMalformedUrlsWithoutLeakingThePassword) {
  for (const char* bad :
       {"http://h:1", "redis://", "redis://h:0", "redis://h:99999", "redis://h:x", "redis://h:1/16",
        "redis://a:1,b:2/0", "redis-sentinel://s:1", "redis-sentinel://s:1/"}) {
    EXPECT_THROW(parse_redis_url(bad), std::invalid_argument) << bad;
  }
  try {
    parse_redis_url("redis://:topsecret@h:bad/0");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos);
  }
  EXPECT_TRUE(is_redis_url("redis://h"));
  EXPECT_TRUE(is_redis_url("redis-sentinel://h/m"));
  EXPECT_FALSE(is_redis_url("sqlite"));
}

}  // namespace
}  // namespace streamer::redis
