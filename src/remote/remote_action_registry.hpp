// The registry of remote actions shared through the job store, so that every gateway on
// one store (several on one Redis, or on one SQLite file) knows an action as soon as a
// worker registered it at any of them, validates its payloads against the same schema,
// and answers INVALID_ACTION once none serves it any more.
//
// Lifetime: a gateway holding a connected worker of an action writes the action's entry
// (name, spec, the tenant its worker serves) with an expiry `ttl` ahead, and pushes the
// expiry forward every `refresh`. When no worker of the action is connected anywhere,
// the entry expires `ttl` after the last refresh; from the next refresh on, gateways
// refuse new requests for it (INVALID_ACTION). Jobs already queued stay queued (bounded
// by the queue bounds) and run when a worker of the action registers again.
//
// Every refresh (on a thread of its own) also reads the live entries and makes the
// local RemoteActions match them: an action registered elsewhere becomes known here
// within one refresh.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "jobs/job_store.hpp"
#include "remote/remote_actions.hpp"

namespace streamer::remote {

struct RemoteActionRegistryOptions {
  std::chrono::milliseconds ttl{30'000};     // an entry outlives its last worker this long
  std::chrono::milliseconds refresh{1'000};  // expiry pushes and reads of the registry
};

class RemoteActionRegistry {
 public:
  RemoteActionRegistry(JobStore& store, RemoteActions& actions,
                       RemoteActionRegistryOptions options);
  ~RemoteActionRegistry();
  RemoteActionRegistry(const RemoteActionRegistry&) = delete;
  RemoteActionRegistry& operator=(const RemoteActionRegistry&) = delete;

  void start();
  void stop();

  // A worker connected here registers `spec` serving `tenant_scope` ("": every
  // tenant): checked as RemoteActions::add() checks it, written to the store, added to
  // RemoteActions, and kept alive while attached. Throws HandlerError as add() does, and
  // VALIDATION_ERROR {field actions[i].x, expected the first spec's value} when another
  // gateway's live entry of the name has a different spec.
  void attach(RemoteActionSpec spec, const std::string& tenant_scope, std::size_t index);
  // One worker connection serving `name` is gone.
  void detach(const std::string& name);

  // One refresh now: pushes the attached entries' expiry, then adopts the live entries
  // and retires the others. Store errors are logged; the previous view stays.
  void refresh();

 private:
  struct Attached {
    std::string spec_json;
    std::string tenant_scope;
    int connections = 0;
  };
  void run();

  JobStore& store_;
  RemoteActions& actions_;
  const RemoteActionRegistryOptions options_;
  std::mutex mutex_;  // attached_
  std::map<std::string, Attached> attached_;
  std::mutex refresh_mutex_;  // one refresh or attach at a time
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace streamer::remote
