// JSON text for the wire. Like boost::json::serialize, but numbers are written the
// way people and the seed's examples write them: integers as integers, doubles in
// their shortest round-trip form without exponents where that is shorter ("45.5",
// "100", "0.234"), and non-finite doubles as null (JSON has no NaN).
#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace streamer {

std::string to_json_text(const boost::json::value& value);
void append_json_text(std::string& out, const boost::json::value& value);
// `text` as a JSON string literal, quotes included (for hand-built log lines).
std::string json_quoted(std::string_view text);

}  // namespace streamer
