#include "handlers/process/sql_function_allowlist.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace streamer::process {
namespace {

// Sorted at compile time so that a binary search finds a name.
constexpr auto kAllowed = [] {
  auto names = std::to_array<std::string_view>(
      {// operators implemented as functions
       "->", "->>", "glob", "like",
       // scalar
       "abs", "char", "coalesce", "concat", "concat_ws", "format", "hex", "ifnull", "iif", "instr",
       "length", "likelihood", "likely", "lower", "ltrim", "max", "min", "nullif", "octet_length",
       "printf", "quote", "random", "replace", "round", "rtrim", "sign", "substr", "substring",
       "trim", "typeof", "unhex", "unicode", "unlikely", "upper",
       // date and time
       "current_date", "current_time", "current_timestamp", "date", "datetime", "julianday",
       "strftime", "time", "timediff", "unixepoch",
       // aggregate
       "avg", "count", "group_concat", "string_agg", "sum", "total",
       // window
       "cume_dist", "dense_rank", "first_value", "lag", "last_value", "lead", "nth_value", "ntile",
       "percent_rank", "rank", "row_number",
       // math
       "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "ceiling", "cos", "cosh",
       "degrees", "exp", "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow", "power",
       "radians", "sin", "sinh", "sqrt", "tan", "tanh", "trunc",
       // JSON
       "json", "json_array", "json_array_length", "json_extract", "json_group_array",
       "json_group_object", "json_insert", "json_object", "json_patch", "json_quote", "json_remove",
       "json_replace", "json_set", "json_type", "json_valid"});
  std::sort(names.begin(), names.end());
  return names;
}();

}  // namespace

bool is_allowed_sql_function(std::string_view name) noexcept {
  char lower[32];
  if (name.empty() || name.size() > sizeof lower) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
  return std::binary_search(kAllowed.begin(), kAllowed.end(), std::string_view(lower, name.size()));
}

}  // namespace streamer::process
