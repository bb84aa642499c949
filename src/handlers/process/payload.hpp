// The process_data payload (seed § "2. Process Data"), parsed and validated.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>

#include "handlers/process/output_writer.hpp"
#include "handlers/process/pipeline_options.hpp"

namespace streamer::process {

struct DataSourceSpec {
  enum class Type { kFile, kQuery, kStream };
  Type type = Type::kFile;
  std::string path;       // file: client path inside the sandbox
  std::string query;      // query: SQL text
  std::string stream_id;  // stream
};

struct ProcessRequest {
  PipelineOptions options;
  DataSourceSpec source;
  OutputFormat format = OutputFormat::kJson;
  std::optional<std::string> destination;  // sandbox prefix (syntax-checked)
};

// Parses and checks the payload without touching the disk. Throws
// HandlerError::validation naming the offending field (e.g. "pipeline",
// "data_source.path", "output.destination", "options.k") for a missing or
// ill-typed field, an unknown enum value, an out-of-range option, a path with
// traversal, or a destination with a URL scheme (s3://, gs://, file://, ...), which
// this server cannot write to.
ProcessRequest parse_process_payload(const boost::json::object& payload);

}  // namespace streamer::process
