// A small synchronous Redis client over hiredis: one connection, commands as argument
// vectors, Lua scripts by EVALSHA (loaded on NOSCRIPT), and reconnection. A Sentinel URL
// is resolved to the current primary on every (re)connect, so after a failover the next
// command goes to the new primary.
//
// Thread-safe: one command at a time per client (a mutex); a thread that blocks
// (BZPOPMIN, SUBSCRIBE) should have a client of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_url.hpp"

struct redisContext;

namespace streamer::redis {

// The connection failed or broke (timeout, reset, no primary): the command's effect is
// unknown. The next command reconnects.
class RedisConnectionError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The server a Sentinel named answers ROLE with something other than master (a stale
// Sentinel, or a failover half done). Retried by connect() until primary_wait is spent.
class NotPrimaryError : public RedisConnectionError {
  using RedisConnectionError::RedisConnectionError;
};

// Redis answered with an error reply (e.g. a script's redis.error_reply).
class RedisReplyError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An owned copy of a RESP2 reply.
struct Reply {
  enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;              // kString, kStatus, kError
  long long integer = 0;        // kInteger
  std::vector<Reply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  // The integer, or a string that holds one (scripts return both); throws otherwise.
  long long as_int() const;
  // The string (kString/kStatus); "" for nil; throws for other types.
  const std::string& as_string() const;
};

// A Lua script and its SHA1, the name EVALSHA calls it by.
class LuaScript {
 public:
  explicit LuaScript(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha() const { return sha_; }

 private:
  std::string source_;
  std::string sha_;
};

// One script call of a pipeline: EVALSHA of `script` with `keys` and `args`.
struct ScriptCall {
  const LuaScript* script = nullptr;
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

struct RedisClientOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{5000};
  // Sentinel URLs: how long a connect keeps asking the Sentinels again (with backoff)
  // while the server they name is not a primary.
  std::chrono::milliseconds primary_wait{3000};
};

class RedisClient {
 public:
  explicit RedisClient(RedisUrl url, RedisClientOptions options = {});
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs one command. An error reply throws RedisReplyError; a broken connection throws
  // RedisConnectionError after dropping it (not retried: the command may have run).
  Reply command(const std::vector<std::string>& argv);

  // A blocking command (BZPOPMIN, BLPOP, WAIT) whose server-side wait is `wait`: the
  // socket timeout is stretched by `wait` for this call only.
  Reply blocking_command(const std::vector<std::string>& argv, std::chrono::milliseconds wait);

  // EVALSHA of `script` with `keys` and `args`; on NOSCRIPT (a restarted or failed-over
  // server) loads the script and runs it once more. Errors as command().
  Reply eval(const LuaScript& script, const std::vector<std::string>& keys,
             const std::vector<std::string>& args);

  // The calls as one pipeline: every EVALSHA is sent, then the replies are read, one
  // round trip in all. Returns the replies in the calls' order. A call answered NOSCRIPT
  // (it did not run) is run again after the script is loaded, after the other calls.
  // An error reply throws RedisReplyError once every reply was read (the calls before
  // and after it ran); a broken connection throws RedisConnectionError after dropping
  // it (which calls ran is unknown).
  std::vector<Reply> eval_pipeline(const std::vector<ScriptCall>& calls);

  // Connects now unless connected. With a Sentinel URL the named server must answer ROLE
  // as master; while it does not, resolution is retried with backoff for primary_wait.
  // Throws RedisConnectionError (NotPrimaryError when no primary was found in time).
  void connect();
  // The endpoint of the data server currently connected, if any.
  std::optional<Endpoint> connected_to();
  const RedisUrl& url() const { return url_; }

 private:
  void connect_locked();
  void connect_once_locked();  // one resolution and connection attempt
  void drop_locked();
  Endpoint resolve_primary_locked();
  Reply run_locked(const std::vector<std::string>& argv,
                   std::optional<std::chrono::milliseconds> wait);
  std::vector<Reply> pipeline_locked(const std::vector<std::vector<std::string>>& argvs);

  RedisUrl url_;
  RedisClientOptions options_;
  std::mutex mutex_;
  redisContext* ctx_ = nullptr;
  Endpoint current_;
};

}  // namespace streamer::redis
