// Structured log lines. Every line the server logs is one JSON object: the logger set up
// in app/logging.cpp writes `{"ts":...,"level":...,"msg":<message>}`, and the message is
// the object log_event builds here, `{"event":<event>, <fields in the order given>}`.
// Strings are escaped by Boost.JSON (quotes, backslashes, control characters), so a
// value can neither end its line nor add fields; numbers are written as in
// to_json_text. Callers pass identifiers, counts and error texts; credentials (tokens,
// secrets, signed URLs) never go into a field.
#pragma once

#include <spdlog/common.h>

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

namespace streamer {

// The message text of one log line: {"event":event,...fields}.
std::string log_event_text(std::string_view event, const boost::json::object& fields = {});

// Logs {"event":event,...fields} at `level` with the default logger. Does nothing but
// return when the logger does not write `level` (the fields were built already, so a
// caller with costly fields on a hot path checks spdlog::should_log itself).
void log_event(spdlog::level::level_enum level, std::string_view event,
               const boost::json::object& fields = {});

}  // namespace streamer
