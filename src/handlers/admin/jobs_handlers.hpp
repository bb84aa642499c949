// The admin API's job actions: jobs.list, jobs.get, jobs.retry, jobs.cancel and
// jobs.purge. Sync, on the sync pool (they read or write the store). A caller without
// the `admin` permission sees and acts only on its own (tenant, user) requests: every
// store call is made with the caller's scope or key.
#pragma once

#include "core/handler.hpp"
#include "jobs/event_bus.hpp"
#include "jobs/job_observer.hpp"
#include "jobs/job_store.hpp"
#include "router/handler_registry.hpp"

namespace streamer {
class WorkerPool;
}

namespace streamer::admin {

// What the job actions work on. `workers` may be null (a gateway without workers).
struct AdminServices {
  JobStore& store;
  EventBus& bus;
  WorkerPool* workers = nullptr;
  const HandlerRegistry& registry;  // for the attempts a retried action is granted
  JobObserver* observer = nullptr;  // told about jobs.retry requeues; may be null
};

// {jobs: [...], next_cursor}: a page of the caller's (or, for an admin, any tenant's)
// requests, newest first, filtered by action, state and creation time.
class JobsListHandler final : public TypedHandler<boost::json::object> {
 public:
  explicit JobsListHandler(AdminServices services);
  // Checks the shapes of the fields (the caller's scope is resolved by run).
  boost::json::object parse(const boost::json::object& payload) const override;
  HandlerResult run(const boost::json::object& payload, JobContext& ctx) override;

 private:
  AdminServices services_;
};

// Everything stored about one request.
class JobsGetHandler final : public TypedHandler<boost::json::object> {
 public:
  explicit JobsGetHandler(AdminServices services);
  // Checks the shapes of the fields (the caller's scope is resolved by run).
  boost::json::object parse(const boost::json::object& payload) const override;
  HandlerResult run(const boost::json::object& payload, JobContext& ctx) override;

 private:
  AdminServices services_;
};

// Queues a failed request again as a new attempt of the same request id.
class JobsRetryHandler final : public TypedHandler<boost::json::object> {
 public:
  explicit JobsRetryHandler(AdminServices services);
  // Checks the shapes of the fields (the caller's scope is resolved by run).
  boost::json::object parse(const boost::json::object& payload) const override;
  HandlerResult run(const boost::json::object& payload, JobContext& ctx) override;

 private:
  AdminServices services_;
};

// `cancel` for any request the caller may see; its subscribers get CANCELLED.
class JobsCancelHandler final : public TypedHandler<boost::json::object> {
 public:
  explicit JobsCancelHandler(AdminServices services);
  // Checks the shapes of the fields (the caller's scope is resolved by run).
  boost::json::object parse(const boost::json::object& payload) const override;
  HandlerResult run(const boost::json::object& payload, JobContext& ctx) override;

 private:
  AdminServices services_;
};

// Deletes the caller's (an admin: every or one tenant's) requests that finished more
// than `older_than` seconds ago.
class JobsPurgeHandler final : public TypedHandler<boost::json::object> {
 public:
  explicit JobsPurgeHandler(AdminServices services);
  // Checks the shapes of the fields (the caller's scope is resolved by run).
  boost::json::object parse(const boost::json::object& payload) const override;
  HandlerResult run(const boost::json::object& payload, JobContext& ctx) override;

 private:
  AdminServices services_;
};

void register_admin_handlers(HandlerRegistry& registry, const AdminServices& services);

}  // namespace streamer::admin
