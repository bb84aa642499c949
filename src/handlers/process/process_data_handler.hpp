// The `process_data` action (seed § 2): load a tenant-scoped data source, run an ML
// pipeline, publish the per-row output to the artifact store.
#pragma once

#include "core/handler.hpp"
#include "handlers/process/payload.hpp"
#include "handlers/process/sql_source.hpp"

namespace streamer::process {

class ProcessDataHandler : public TypedHandler<ProcessRequest> {
 public:
  explicit ProcessDataHandler(QueryLimits query_limits = {});
  // The payload as a request (parse_process_payload): checks only, no disk access.
  ProcessRequest parse(const boost::json::object& payload) const override;
  // Runs the five seed stages with progress, honours ctx.cancel between steps, and
  // returns {summary, data (json only), output_location}. Typed failures:
  // VALIDATION_ERROR (bad data/paths/SQL), NOT_FOUND (missing file or stream).
  HandlerResult run(const ProcessRequest& req, JobContext& ctx) override;

 private:
  QueryLimits query_limits_;
};

}  // namespace streamer::process
