#include "service/request_log.hpp"

#include <spdlog/spdlog.h>

#include "core/json_text.hpp"

namespace streamer {

namespace {
void add_field(std::string& line, std::string_view key, std::string_view text) {
  line += ",\"";
  line += key;
  line += "\":";
  line += json_quoted(text);
}
void add_field(std::string& line, std::string_view key, const boost::json::value& value) {
  line += ",\"";
  line += key;
  line += "\":";
  append_json_text(line, value);
}
}  // namespace

void RequestLog::job_finished(const JobRecord& job, JobStatus status, std::string_view error_code,
                              double run_seconds) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  const double total =
      std::chrono::duration<double>(std::chrono::system_clock::now() - job.created_at).count();
  // The same line log_event would write, built in one string: this runs on the commit
  // thread for every job. Keys are literals; every value is escaped.
  std::string line;
  line.reserve(200 + job.key.request_id.size() + job.trace_id.size());
  line += R"({"event":"request_finished")";
  add_field(line, "request_id", job.key.request_id);
  add_field(line, "tenant", job.key.tenant_id);
  add_field(line, "user", job.key.user_id);
  add_field(line, "action", job.action);
  add_field(line, "status", to_string(status));
  if (error_code.empty()) {
    add_field(line, "code", boost::json::value(nullptr));
  } else {
    add_field(line, "code", error_code);
  }
  add_field(line, "run_seconds", boost::json::value(run_seconds));
  add_field(line, "total_seconds", boost::json::value(total));
  add_field(line, "attempt", boost::json::value(job.attempts));
  add_field(line, "trace_id", job.trace_id);
  line += '}';
  spdlog::info("{}", line);
}

}  // namespace streamer
