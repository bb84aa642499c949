#include "remote/remote_action_registry.hpp"

#include <pthread.h>

#include <set>
#include <vector>

#include "core/log_event.hpp"

namespace streamer::remote {
namespace json = boost::json;

RemoteActionRegistry::RemoteActionRegistry(JobStore& store, RemoteActions& actions,
                                           RemoteActionRegistryOptions options)
    : store_(store), actions_(actions), options_(options) {}

RemoteActionRegistry::~RemoteActionRegistry() { stop(); }

void RemoteActionRegistry::start() {
  std::lock_guard lock(stop_mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void RemoteActionRegistry::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RemoteActionRegistry::run() {
  pthread_setname_np(pthread_self(), "remote-registry");
  std::unique_lock lock(stop_mutex_);
  do {
    lock.unlock();
    refresh();
    lock.lock();
  } while (!stop_cv_.wait_for(lock, options_.refresh, [this] { return stopping_; }));
}

void RemoteActionRegistry::attach(RemoteActionSpec spec, const std::string& tenant_scope,
                                  std::size_t index) {
  // Under the refresh lock: a refresh's view of the store never retires what this adds.
  std::lock_guard one(refresh_mutex_);
  actions_.check(spec, index);
  const std::string spec_json = json::serialize(spec.declared);
  const auto now = std::chrono::system_clock::now();
  const JobStore::RemoteActionEntry live =
      store_.put_remote_action({spec.spec.name, spec_json, tenant_scope, now + options_.ttl}, now);
  if (live.spec_json != spec_json) {
    // Another gateway's worker registered the name first, with another spec.
    const std::string at = "actions[" + std::to_string(index) + "]";
    std::error_code ec;
    json::value first = json::parse(live.spec_json, ec);
    std::string field = at, expected = live.spec_json;
    if (!ec && first.is_object()) {
      for (const auto& kv : spec.declared) {
        const json::value* had = first.get_object().if_contains(kv.key());
        if (!had || *had != kv.value()) {
          field = at + "." + std::string(kv.key());
          expected = had ? json::serialize(*had) : "absent";
          throw HandlerError::validation(
              field, expected, kv.value(),
              field + " differs from the spec " + spec.spec.name + " was first registered with");
        }
      }
    }
    throw HandlerError::validation(
        field, expected, json::value(spec_json),
        "the spec differs from the one " + spec.spec.name + " was first registered with");
  }
  const std::string name = spec.spec.name;
  actions_.add(std::move(spec), index);
  std::lock_guard lock(mutex_);
  Attached& a = attached_[name];
  a.spec_json = spec_json;
  a.tenant_scope = tenant_scope;
  a.connections += 1;
}

void RemoteActionRegistry::detach(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = attached_.find(name);
  if (it != attached_.end() && --it->second.connections <= 0) attached_.erase(it);
}

void RemoteActionRegistry::refresh() {
  std::lock_guard one(refresh_mutex_);
  std::vector<std::pair<std::string, Attached>> attached;
  {
    std::lock_guard lock(mutex_);
    attached.assign(attached_.begin(), attached_.end());
  }
  try {
    const auto now = std::chrono::system_clock::now();
    for (const auto& [name, a] : attached)
      store_.put_remote_action({name, a.spec_json, a.tenant_scope, now + options_.ttl}, now);
    std::set<std::string, std::less<>> live;
    for (const auto& entry : store_.live_remote_actions(now)) {
      std::error_code ec;
      json::value spec = json::parse(entry.spec_json, ec);
      if (ec) continue;
      try {
        if (actions_.adopt(parse_action_spec(spec, 0, actions_.options()))) live.insert(entry.name);
      } catch (const HandlerError& e) {  // a spec this gateway's limits refuse
        log_event(spdlog::level::warn, "remote_action_not_adopted",
                  {{"action", entry.name}, {"error", e.what()}});
      }
    }
    actions_.retire_except(live);
  } catch (const std::exception& e) {
    log_event(spdlog::level::warn, "store_error",
              {{"op", "remote_action_registry"}, {"error", e.what()}});
  }
}

}  // namespace streamer::remote
