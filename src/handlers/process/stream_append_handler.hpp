// The `stream_append` action: appends records to one of the caller tenant's named
// streams, which process_data reads with data_source {type: "stream", stream_id}.
#pragma once

#include "core/handler.hpp"
#include "handlers/process/stream_store.hpp"

namespace streamer::process {

struct StreamAppendRequest {
  std::string stream_id;       // valid_stream_id()
  boost::json::array records;  // 1..max_records_per_append objects of scalars
};

class StreamAppendHandler : public TypedHandler<StreamAppendRequest> {
 public:
  explicit StreamAppendHandler(StreamLimits limits = {});  // sync, permission "write"
  // {stream_id, records:[{...}]}: checked by validate_append_payload().
  StreamAppendRequest parse(const boost::json::object& payload) const override;
  // Stores the records durably (one SQLite transaction, synchronous=FULL) and
  // returns {stream_id, appended, total_records}. VALIDATION_ERROR when the stream or
  // the tenant's quota (limits.max_bytes_per_tenant) is full: see StreamStore::append.
  HandlerResult run(const StreamAppendRequest& request, JobContext& ctx) override;

 private:
  StreamLimits limits_;
};

}  // namespace streamer::process
