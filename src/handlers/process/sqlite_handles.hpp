// Owning handles for SQLite connections and statements (the `query` source, the stream
// store).
#pragma once

#include <sqlite3.h>

#include <memory>

namespace streamer::process {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

}  // namespace streamer::process
