// The SQL functions a client's `query` may call: ordinary scalar, aggregate, window,
// date/time, math and JSON functions useful for analytics. Everything else (process
// or build internals such as fts3_tokenizer or sqlite_compileoption_get, extension
// loading, blob generators, connection state such as last_insert_rowid, full-text and
// r-tree helpers) is refused.
#pragma once

#include <string_view>

namespace streamer::process {

// True when `name` (as SQLite reports it to the authorizer, compared
// case-insensitively) is on the allow-list.
bool is_allowed_sql_function(std::string_view name) noexcept;

}  // namespace streamer::process
