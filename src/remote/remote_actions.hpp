// The actions remote workers serve: each one's spec (from the first worker that
// registered it) and payload schema, as Handlers the router finds like built-in ones.
// A remote action's handler only validates payloads; its jobs go to the action's own
// store lane, which only the RemoteDispatcher claims. An action is known (live) while
// the shared registry in the job store lists it (RemoteActionRegistry): requests for
// it queue while no worker is connected, until its registration expires.
#pragma once

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <variant>
#include <vector>

#include "core/handler.hpp"
#include "remote/json_schema.hpp"
#include "router/handler_registry.hpp"

namespace streamer::remote {

struct RemoteActionsOptions {
  bool allow_override = false;    // a worker may take over a built-in action name
  std::size_t max_actions = 256;  // distinct remote actions this process keeps
  std::chrono::milliseconds max_time_limit{24 * 3600 * 1000};
  int max_attempts_limit = 100;
  SchemaLimits schema;
};

// A spec as a worker declared it, checked: the handler spec, its schema and the raw JSON
// (compared field by field with later registrations of the same name).
struct RemoteActionSpec {
  HandlerSpec spec;
  JsonSchema schema;
  boost::json::object declared;  // name, estimated_duration, permission, time_limit,
                                 // max_attempts, schema (defaults filled in)
};

// Parses one entry of a `register` message's `actions`. Throws HandlerError
// (VALIDATION_ERROR, details {field, expected, received}; field is "actions[i].x").
RemoteActionSpec parse_action_spec(const boost::json::value& entry, std::size_t index,
                                   const RemoteActionsOptions& options);

// The handler of a remote action: validates payloads against the schema; never runs.
class RemoteHandler final : public Handler {
 public:
  RemoteHandler(HandlerSpec spec, JsonSchema schema, boost::json::object declared);
  ParsedRequest parse_payload(const boost::json::object& payload) const override;
  HandlerResult run_parsed(const ParsedRequest& request, JobContext& ctx) override;
  const boost::json::object& declared() const { return declared_; }
  // Known to clients (found by the router); false once its registration expired.
  bool live() const { return live_.load(); }
  void set_live(bool live) { live_.store(live); }

 private:
  JsonSchema schema_;
  boost::json::object declared_;
  std::atomic<bool> live_{true};
};

class RemoteActions final : public DynamicHandlers {
 public:
  RemoteActions(const HandlerRegistry& builtin, RemoteActionsOptions options);

  // Registers `spec` (or checks it against the first registration of its name) for a
  // worker allowed to serve it. Throws HandlerError: UNAUTHORIZED for a built-in name
  // without allow_override; VALIDATION_ERROR {field, expected, received} for a spec
  // that differs from the registered one, or when max_actions are known already.
  const RemoteHandler& add(RemoteActionSpec spec, std::size_t index);
  // The checks of add() without adding anything.
  void check(const RemoteActionSpec& spec, std::size_t index) const;
  // An action the shared registry lists: known from now on with that spec (a live one
  // registered here with another spec is kept). False when max_actions are known.
  bool adopt(RemoteActionSpec spec);
  // Actions not in `live_names` are no longer known (their handlers stay allocated).
  void retire_except(const std::set<std::string, std::less<>>& live_names);

  Handler* find(std::string_view action) const override;
  std::vector<std::string> names() const override;
  const RemoteActionsOptions& options() const { return options_; }

 private:
  const HandlerRegistry& builtin_;
  RemoteActionsOptions options_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::unique_ptr<RemoteHandler>, std::less<>> actions_;
  // Handlers replaced after they expired: a request parsed by one may still hold it.
  std::vector<std::unique_ptr<RemoteHandler>> replaced_;
  std::size_t live_count_locked() const;
  // Installs `spec` under its name (replacing an expired handler); caller holds mutex_.
  RemoteHandler& install_locked(RemoteActionSpec spec);
};

}  // namespace streamer::remote
