// JSON text for the wire. Like boost::json::serialize, but numbers are written the
// way people and the seed's examples write them: integers as integers, doubles in
// their shortest round-trip form without exponents where that is shorter ("45.5",
// "100", "0.234"), and non-finite doubles as null (JSON has no NaN).
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace streamer {

std::string to_json_text(const boost::json::value& value);
std::string to_json_text(const boost::json::object& object);
void append_json_text(std::string& out, const boost::json::value& value);
// The same for an object, written from where it is (passing an object where a value is
// expected would copy it into a temporary value first).
void append_json_text(std::string& out, const boost::json::object& object);
// `text` as a JSON string literal, quotes included, appended to `out`.
void append_json_string(std::string& out, std::string_view text);
// `text` as a JSON string literal, quotes included (for hand-built log lines).
std::string json_quoted(std::string_view text);

// The path of the first number in `value` that is not a finite double, or nullopt
// when every number is finite. Boost.JSON reads a number beyond the double range
// (1e400, a 400-digit integer) as ±infinity and a zero with such an exponent (0e400)
// as NaN, without an error; callers refuse those rather than pass on a changed value.
// The path starts at `root` and names keys as `.key` (or `["key"]` when the key is
// not plain [A-Za-z0-9_-]) and array items as `[i]`: `payload.rows[3].x`. Recurses
// once per nesting level.
std::optional<std::string> find_non_finite_number(const boost::json::value& value,
                                                  std::string_view root);

}  // namespace streamer
