// File-name helpers of the artifact store: MIME types and safe names.
#pragma once

#include <string>
#include <string_view>

namespace streamer::artifacts {

// MIME type for a file name by its extension (case-insensitive); csv, xlsx, pdf,
// json, jsonl, parquet and a few others; application/octet-stream otherwise.
std::string content_type_for(std::string_view file_name);

// A file-system and URL safe version of `name`: only [A-Za-z0-9._-], no leading
// dot, at most 120 characters (extension kept), never empty ("artifact").
std::string sanitise_file_name(std::string_view name);

// True when `segment` is a safe single path component as produced by
// sanitise_file_name (non-empty, [A-Za-z0-9._-], not starting with '.').
bool is_safe_segment(std::string_view segment) noexcept;

}  // namespace streamer::artifacts
