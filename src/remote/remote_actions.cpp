#include "remote/remote_actions.hpp"

#include <cmath>
#include <mutex>

namespace streamer::remote {
namespace json = boost::json;

namespace {

bool valid_action_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// A whole number of milliseconds in [lo, hi] at `field`, or `fallback` when absent.
std::int64_t milliseconds(const json::object& o, std::string_view key, std::int64_t fallback,
                          std::int64_t lo, std::int64_t hi, const std::string& field) {
  const json::value* v = o.if_contains(key);
  if (!v) return fallback;
  const bool whole = v->is_int64() || v->is_uint64() ||
                     (v->is_double() && std::floor(v->get_double()) == v->get_double());
  if (!whole || v->to_number<double>() < static_cast<double>(lo) ||
      v->to_number<double>() > static_cast<double>(hi)) {
    throw HandlerError::validation(
        field, "integer from " + std::to_string(lo) + " to " + std::to_string(hi), *v,
        field + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return v->to_number<std::int64_t>();
}

}  // namespace

RemoteActionSpec parse_action_spec(const json::value& entry, std::size_t index,
                                   const RemoteActionsOptions& options) {
  const std::string at = "actions[" + std::to_string(index) + "]";
  if (!entry.is_object())
    throw HandlerError::validation(at, "object", entry, at + " must be an object");
  const json::object& o = entry.get_object();
  static const char* kKeys[] = {"name",       "estimated_duration", "permission",
                                "time_limit", "max_attempts",       "schema"};
  for (const auto& kv : o) {
    bool known = false;
    for (const char* k : kKeys) known = known || kv.key() == k;
    if (!known)
      throw HandlerError::validation(at + "." + std::string(kv.key()), "absent", kv.value(),
                                     "unknown field " + std::string(kv.key()));
  }
  const json::value* name = o.if_contains("name");
  if (!name || !name->is_string() || !valid_action_name(name->get_string())) {
    throw HandlerError::validation(at + ".name", "1-64 characters of A-Z a-z 0-9 _ - .",
                                   name ? *name : json::value(nullptr),
                                   at + ".name must be an action name");
  }
  RemoteActionSpec out;
  HandlerSpec& s = out.spec;
  s.name = std::string(name->get_string());
  s.execution = Execution::kAsync;
  s.lane = s.name;
  s.estimated_duration = std::chrono::milliseconds(milliseconds(
      o, "estimated_duration", 0, 0, options.max_time_limit.count(), at + ".estimated_duration"));
  s.time_limit = std::chrono::milliseconds(
      milliseconds(o, "time_limit", 30'000, 1, options.max_time_limit.count(), at + ".time_limit"));
  s.max_attempts = static_cast<int>(
      milliseconds(o, "max_attempts", 3, 1, options.max_attempts_limit, at + ".max_attempts"));
  s.permission = "write";
  if (const json::value* p = o.if_contains("permission")) {
    if (!p->is_string() || p->get_string().size() > 64)
      throw HandlerError::validation(at + ".permission", "string of at most 64 characters", *p,
                                     at + ".permission must be a permission name");
    s.permission = std::string(p->get_string());
  }
  json::value schema = json::object{{"type", "object"}};
  if (const json::value* sc = o.if_contains("schema")) schema = *sc;
  try {
    out.schema = JsonSchema::compile(schema, options.schema);
  } catch (const SchemaError& e) {
    const std::string field = e.path().empty() ? at + ".schema" : at + ".schema." + e.path();
    throw HandlerError::validation(field, "a JSON Schema of the supported subset", schema,
                                   field + ": " + e.what());
  }
  out.declared = {{"name", s.name},
                  {"estimated_duration", s.estimated_duration.count()},
                  {"permission", s.permission},
                  {"time_limit", s.time_limit.count()},
                  {"max_attempts", s.max_attempts},
                  {"schema", std::move(schema)}};
  return out;
}

RemoteHandler::RemoteHandler(HandlerSpec spec, JsonSchema schema, json::object declared)
    : Handler(std::move(spec)), schema_(std::move(schema)), declared_(std::move(declared)) {}

ParsedRequest RemoteHandler::parse_payload(const json::object& payload) const {
  if (auto bad = schema_.validate(payload)) {
    throw HandlerError::validation(bad->field.empty() ? "payload" : bad->field, bad->expected,
                                   bad->received, bad->message);
  }
  return ParsedRequest(std::make_shared<const json::object>(payload), this);
}

HandlerResult RemoteHandler::run_parsed(const ParsedRequest&, JobContext&) {
  // Its jobs are in the action's own lane, which no worker pool claims.
  throw HandlerError(ErrorCode::kInternalError,
                     "remote action " + spec().name + " runs on remote workers only");
}

RemoteActions::RemoteActions(const HandlerRegistry& builtin, RemoteActionsOptions options)
    : builtin_(builtin), options_(std::move(options)) {}

void RemoteActions::check(const RemoteActionSpec& spec, std::size_t index) const {
  const std::string at = "actions[" + std::to_string(index) + "]";
  const std::string& name = spec.spec.name;
  if (!options_.allow_override && builtin_.find_builtin(name)) {
    json::object details;
    details["action"] = name;
    details["reason"] = "builtin_action";
    throw HandlerError(ErrorCode::kUnauthorized,
                       "action " + name +
                           " is built in (start the server with "
                           "--allow-remote-override to let workers take it over)",
                       std::move(details));
  }
  std::shared_lock lock(mutex_);
  auto it = actions_.find(name);
  if (it != actions_.end() && it->second->live()) {
    const json::object& first = it->second->declared();
    for (const auto& kv : spec.declared) {
      const json::value* had = first.if_contains(kv.key());
      if (!had || *had != kv.value()) {
        const std::string field = at + "." + std::string(kv.key());
        throw HandlerError::validation(
            field, had ? json::serialize(*had) : "absent", kv.value(),
            field + " differs from the spec " + name + " was first registered with");
      }
    }
    return;
  }
  if (live_count_locked() >= options_.max_actions) {
    throw HandlerError::validation(at + ".name",
                                   "one of the " + std::to_string(live_count_locked()) +
                                       " registered actions (--remote-max-actions)",
                                   json::value(name), "too many remote actions");
  }
}

const RemoteHandler& RemoteActions::add(RemoteActionSpec spec, std::size_t index) {
  check(spec, index);
  std::unique_lock lock(mutex_);
  auto it = actions_.find(spec.spec.name);
  if (it != actions_.end() && it->second->live()) return *it->second;
  return install_locked(std::move(spec));
}

bool RemoteActions::adopt(RemoteActionSpec spec) {
  if (!options_.allow_override && builtin_.find_builtin(spec.spec.name)) return false;
  std::unique_lock lock(mutex_);
  auto it = actions_.find(spec.spec.name);
  if (it != actions_.end()) {
    if (it->second->live()) return true;  // the spec it was registered with here
    if (it->second->declared() == spec.declared) {
      it->second->set_live(true);
      return true;
    }
  }
  if (live_count_locked() >= options_.max_actions) return false;
  install_locked(std::move(spec));
  return true;
}

void RemoteActions::retire_except(const std::set<std::string, std::less<>>& live_names) {
  std::unique_lock lock(mutex_);
  for (auto& [name, handler] : actions_)
    if (!live_names.contains(name)) handler->set_live(false);
}

std::size_t RemoteActions::live_count_locked() const {
  std::size_t n = 0;
  for (const auto& [_, handler] : actions_) n += handler->live() ? 1 : 0;
  return n;
}

RemoteHandler& RemoteActions::install_locked(RemoteActionSpec spec) {
  const std::string name = spec.spec.name;
  auto handler = std::make_unique<RemoteHandler>(std::move(spec.spec), std::move(spec.schema),
                                                 std::move(spec.declared));
  auto& slot = actions_[name];
  if (slot) replaced_.push_back(std::move(slot));
  slot = std::move(handler);
  return *slot;
}

Handler* RemoteActions::find(std::string_view action) const {
  std::shared_lock lock(mutex_);
  auto it = actions_.find(action);
  return it == actions_.end() || !it->second->live() ? nullptr : it->second.get();
}

std::vector<std::string> RemoteActions::names() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [name, handler] : actions_)
    if (handler->live()) out.push_back(name);
  return out;
}

}  // namespace streamer::remote
