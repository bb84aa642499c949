// Readers for tabular text: CSV with a header row (RFC 4180 quoting) and JSON Lines.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string_view>

#include "handlers/process/table.hpp"

namespace streamer::process {

// Called every few thousand rows with the number of bytes consumed so far; may throw
// (e.g. OperationCancelled) to abort.
using ReadProgress = std::function<void(std::size_t bytes_done, std::size_t rows_done)>;

// Parses CSV text whose first record is the header. Quoted fields may contain commas,
// doubled quotes and newlines; CRLF and LF line ends are accepted; blank lines are
// skipped. Throws HandlerError(VALIDATION_ERROR) for an empty input, a header without
// data rows, duplicate/empty column names, an unterminated quote, or a record whose
// field count differs from the header's (the message names the line).
DataTable parse_csv(std::string_view text, const ReadProgress& progress = {});

// Parses JSON Lines: one JSON object per non-blank line; scalar values only (nested
// values are refused). Columns are the union of keys in first-seen order. Throws
// HandlerError(VALIDATION_ERROR) on malformed lines, a number outside the range of a
// double (1e999), or an input without records.
DataTable parse_jsonl(std::string_view text, const ReadProgress& progress = {});

// Reads a sandboxed file (already resolved) as CSV, or as JSON Lines when its
// extension is .jsonl/.ndjson. Throws HandlerError: NOT_FOUND when it does not exist
// or is not a regular file, VALIDATION_ERROR when larger than `max_bytes` or
// malformed.
DataTable read_table_file(const std::filesystem::path& file, std::uint64_t max_bytes,
                          const ReadProgress& progress = {});

}  // namespace streamer::process
