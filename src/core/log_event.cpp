#include "core/log_event.hpp"

#include <spdlog/spdlog.h>

#include "core/json_text.hpp"

namespace streamer {

std::string log_event_text(std::string_view event, const boost::json::object& fields) {
  // Written straight into one string (no copy of the fields into a second object): this
  // runs for every job's outcome on the commit thread. A field named "event" is left
  // out: the event name is the line's own.
  std::string out;
  out.reserve(32 + event.size() + 40 * fields.size());
  out += "{\"event\":";
  out += json_quoted(event);
  for (const auto& field : fields) {
    if (field.key() == "event") continue;
    out += ',';
    out += json_quoted(field.key());
    out += ':';
    append_json_text(out, field.value());
  }
  out += '}';
  return out;
}

void log_event(spdlog::level::level_enum level, std::string_view event,
               const boost::json::object& fields) {
  if (!spdlog::should_log(level)) return;
  spdlog::log(level, "{}", log_event_text(event, fields));
}

}  // namespace streamer
