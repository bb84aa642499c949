// Writers for the pipeline's per-row output: JSON (array of objects), CSV (header +
// RFC 4180 quoting) and Parquet (rust/parquet_ffi, linked statically). Missing
// values are JSON null, an empty CSV field, a Parquet null.
#pragma once

#include <boost/json.hpp>
#include <filesystem>
#include <string_view>

#include "handlers/process/table.hpp"

namespace streamer::process {

enum class OutputFormat { kJson, kCsv, kParquet };

// "json" | "csv" | "parquet" -> format; false for anything else.
bool parse_output_format(std::string_view text, OutputFormat& out) noexcept;
const char* extension(OutputFormat format) noexcept;

// Row `r` as a JSON object (integral numbers as integers).
boost::json::object row_to_json(const DataTable& table, std::size_t r);
// The first `limit` rows as JSON objects.
boost::json::array sample_rows(const DataTable& table, std::size_t limit);

// Writes the whole table to `file` in `format`. Throws HandlerError(INTERNAL_ERROR)
// on I/O or Parquet writer failures.
void write_table(const DataTable& table, OutputFormat format, const std::filesystem::path& file);
void write_json(const DataTable& table, const std::filesystem::path& file);
void write_csv(const DataTable& table, const std::filesystem::path& file);
void write_parquet(const DataTable& table,
                   const std::filesystem::path& file);  // parquet_writer.cpp

}  // namespace streamer::process
