#include "redis/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <sys/time.h>

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace streamer::redis {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

Reply copy_reply(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i)
        out.elements.push_back(copy_reply(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

// Connects to one endpoint; nullptr with `error` set when it fails.
redisContext* open(const Endpoint& e, std::chrono::milliseconds connect_timeout,
                   std::chrono::milliseconds command_timeout, std::string& error) {
  redisContext* c = redisConnectWithTimeout(e.host.c_str(), e.port, to_timeval(connect_timeout));
  if (!c || c->err) {
    error = fmt::format("{}:{}: {}", e.host, e.port, c ? c->errstr : "out of memory");
    if (c) redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, to_timeval(command_timeout));
  return c;
}

// One command on a raw context; nullopt when the connection failed.
std::optional<Reply> raw_command(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data()));
  if (!r) return std::nullopt;
  Reply out = copy_reply(r);
  freeReplyObject(r);
  return out;
}

}  // namespace

long long Reply::as_int() const {
  if (type == Type::kInteger) return integer;
  if (type == Type::kString || type == Type::kStatus) {
    try {
      std::size_t used = 0;
      long long v = std::stoll(str, &used);
      if (used == str.size()) return v;
    } catch (const std::exception&) {
    }
  }
  throw RedisReplyError("redis: expected an integer reply");
}

const std::string& Reply::as_string() const {
  static const std::string kEmpty;
  if (type == Type::kString || type == Type::kStatus) return str;
  if (type == Type::kNil) return kEmpty;
  throw RedisReplyError("redis: expected a string reply");
}

LuaScript::LuaScript(std::string source) : source_(std::move(source)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), digest);
  for (unsigned char b : digest) sha_ += fmt::format("{:02x}", b);
}

RedisClient::RedisClient(RedisUrl url, RedisClientOptions options)
    : url_(std::move(url)), options_(options) {}

RedisClient::~RedisClient() {
  if (ctx_) redisFree(ctx_);
}

void RedisClient::drop_locked() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

Endpoint RedisClient::resolve_primary_locked() {
  if (!url_.sentinel) return url_.hosts.front();
  std::string errors;
  for (const auto& s : url_.hosts) {
    std::string error;
    redisContext* c = open(s, options_.connect_timeout, options_.command_timeout, error);
    if (!c) {
      errors += (errors.empty() ? "" : "; ") + error;
      continue;
    }
    auto r = raw_command(c, {"SENTINEL", "get-master-addr-by-name", url_.master_name});
    redisFree(c);
    if (r && r->type == Reply::Type::kArray && r->elements.size() == 2) {
      Endpoint e{r->elements[0].as_string(), 0};
      try {
        e.port = static_cast<int>(r->elements[1].as_int());
      } catch (const std::exception&) {
        continue;
      }
      return e;
    }
    errors += (errors.empty() ? "" : "; ") +
              fmt::format("{}:{}: no primary named '{}'", s.host, s.port, url_.master_name);
  }
  throw RedisConnectionError("redis: no Sentinel could name the primary (" + errors + ")");
}

void RedisClient::connect() {
  std::lock_guard lock(mutex_);
  connect_locked();
}

void RedisClient::connect_locked() {
  if (ctx_) return;
  auto backoff = std::chrono::milliseconds(50);
  const auto give_up = std::chrono::steady_clock::now() + options_.primary_wait;
  for (;;) {
    try {
      connect_once_locked();
      return;
    } catch (const NotPrimaryError&) {
      // A Sentinel can name a server that was just demoted, or one not yet promoted:
      // ask the Sentinels again after a pause, until they name a primary.
      if (std::chrono::steady_clock::now() + backoff > give_up) throw;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
    }
  }
}

void RedisClient::connect_once_locked() {
  Endpoint primary = resolve_primary_locked();
  std::string error;
  redisContext* c = open(primary, options_.connect_timeout, options_.command_timeout, error);
  if (!c) throw RedisConnectionError("redis: cannot connect to " + error);
  auto fail = [&](const std::string& what) {
    redisFree(c);
    throw RedisConnectionError(fmt::format("redis {}:{}: {}", primary.host, primary.port, what));
  };
  if (!url_.password.empty()) {
    auto r = raw_command(c, {"AUTH", url_.password});
    if (!r || r->type == Reply::Type::kError) fail("authentication failed");
  }
  if (url_.db != 0) {
    auto r = raw_command(c, {"SELECT", std::to_string(url_.db)});
    if (!r || r->type == Reply::Type::kError)
      fail("cannot select database " + std::to_string(url_.db));
  }
  if (url_.sentinel) {
    // A Sentinel may name a primary that was just demoted; writes must go to a primary.
    auto r = raw_command(c, {"ROLE"});
    if (!r) fail("ROLE failed");
    if (r->type != Reply::Type::kArray || r->elements.empty() ||
        r->elements[0].type != Reply::Type::kString || r->elements[0].str != "master") {
      redisFree(c);
      throw NotPrimaryError(fmt::format(
          "redis {}:{}: the server Sentinel named is not a primary (failover in progress)",
          primary.host, primary.port));
    }
  }
  ctx_ = c;
  current_ = primary;
}

std::optional<Endpoint> RedisClient::connected_to() {
  std::lock_guard lock(mutex_);
  if (!ctx_) return std::nullopt;
  return current_;
}

Reply RedisClient::run_locked(const std::vector<std::string>& argv,
                              std::optional<std::chrono::milliseconds> wait) {
  connect_locked();
  if (wait) redisSetTimeout(ctx_, to_timeval(options_.command_timeout + *wait));
  auto r = raw_command(ctx_, argv);
  if (!r) {
    std::string why = ctx_->errstr;
    drop_locked();
    throw RedisConnectionError(fmt::format("redis {}:{}: {} failed: {}", current_.host,
                                           current_.port, argv.empty() ? "" : argv[0], why));
  }
  if (wait) redisSetTimeout(ctx_, to_timeval(options_.command_timeout));
  return std::move(*r);
}

Reply RedisClient::command(const std::vector<std::string>& argv) {
  std::lock_guard lock(mutex_);
  Reply r = run_locked(argv, std::nullopt);
  if (r.type == Reply::Type::kError) throw RedisReplyError("redis: " + r.str);
  return r;
}

Reply RedisClient::blocking_command(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds wait) {
  std::lock_guard lock(mutex_);
  Reply r = run_locked(argv, wait);
  if (r.type == Reply::Type::kError) throw RedisReplyError("redis: " + r.str);
  return r;
}

namespace {

std::vector<std::string> evalsha_argv(const LuaScript& script, const std::vector<std::string>& keys,
                                      const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(script.sha());
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

bool is_noscript(const Reply& r) {
  return r.type == Reply::Type::kError && r.str.starts_with("NOSCRIPT");
}

}  // namespace

// Appends every command to the output buffer, then reads as many replies: the first
// read flushes the buffer. On a failed write or read the connection is dropped.
std::vector<Reply> RedisClient::pipeline_locked(
    const std::vector<std::vector<std::string>>& argvs) {
  connect_locked();
  auto fail = [&](const char* what) {
    std::string why = ctx_->errstr;
    drop_locked();
    throw RedisConnectionError(fmt::format("redis {}:{}: pipeline of {} commands: {} failed: {}",
                                           current_.host, current_.port, argvs.size(), what, why));
  };
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const auto& argv : argvs) {
    ptrs.clear();
    lens.clear();
    for (const auto& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), ptrs.data(), lens.data()) !=
        REDIS_OK)
      fail("write");
  }
  std::vector<Reply> out;
  out.reserve(argvs.size());
  for (std::size_t i = 0; i < argvs.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) fail("read");
    auto* r = static_cast<redisReply*>(raw);
    out.push_back(copy_reply(r));
    freeReplyObject(r);
  }
  return out;
}

std::vector<Reply> RedisClient::eval_pipeline(const std::vector<ScriptCall>& calls) {
  std::vector<std::vector<std::string>> argvs;
  argvs.reserve(calls.size());
  for (const auto& c : calls) argvs.push_back(evalsha_argv(*c.script, c.keys, c.args));
  std::lock_guard lock(mutex_);
  if (argvs.empty()) return {};
  std::vector<Reply> replies = pipeline_locked(argvs);
  std::vector<const LuaScript*> loaded;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (!is_noscript(replies[i])) continue;
    const LuaScript* script = calls[i].script;
    if (std::find(loaded.begin(), loaded.end(), script) == loaded.end()) {
      Reply r = run_locked({"SCRIPT", "LOAD", script->source()}, std::nullopt);
      if (r.type == Reply::Type::kError) throw RedisReplyError("redis: SCRIPT LOAD: " + r.str);
      loaded.push_back(script);
    }
    replies[i] = run_locked(argvs[i], std::nullopt);
  }
  for (const auto& r : replies) {
    if (r.type == Reply::Type::kError) throw RedisReplyError("redis: " + r.str);
  }
  return replies;
}

Reply RedisClient::eval(const LuaScript& script, const std::vector<std::string>& keys,
                        const std::vector<std::string>& args) {
  const std::vector<std::string> argv = evalsha_argv(script, keys, args);
  std::lock_guard lock(mutex_);
  Reply r = run_locked(argv, std::nullopt);
  if (r.type == Reply::Type::kError && r.str.starts_with("NOSCRIPT")) {
    Reply loaded = run_locked({"SCRIPT", "LOAD", script.source()}, std::nullopt);
    if (loaded.type == Reply::Type::kError)
      throw RedisReplyError("redis: SCRIPT LOAD: " + loaded.str);
    r = run_locked(argv, std::nullopt);
  }
  if (r.type == Reply::Type::kError) throw RedisReplyError("redis: " + r.str);
  return r;
}

}  // namespace streamer::redis
