#include "artifacts/content_type.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace streamer::artifacts {
namespace {

bool safe_char(char c) noexcept {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

}  // namespace

std::string content_type_for(std::string_view file_name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kTypes{{
      {"csv", "text/csv"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"pdf", "application/pdf"},
      {"json", "application/json"},
      {"jsonl", "application/x-ndjson"},
      {"parquet", "application/vnd.apache.parquet"},
      {"txt", "text/plain; charset=utf-8"},
      {"png", "image/png"},
      {"svg", "image/svg+xml"},
      {"zip", "application/zip"},
  }};
  auto dot = file_name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  std::string ext(file_name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& [e, type] : kTypes) {
    if (e == ext) return std::string(type);
  }
  return "application/octet-stream";
}

std::string sanitise_file_name(std::string_view name) {
  // Keep only the last path component so "a/b/../c.pdf" cannot name a directory.
  auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  out.reserve(name.size());
  for (char c : name) out.push_back(safe_char(c) ? c : '_');
  while (!out.empty() && out.front() == '.') out.erase(out.begin());
  if (out.size() > 120) {
    auto dot = out.rfind('.');
    std::string ext = (dot != std::string::npos && out.size() - dot <= 10) ? out.substr(dot) : "";
    out = out.substr(0, 120 - ext.size()) + ext;
  }
  if (out.empty() || out.find_first_not_of("._-") == std::string::npos) out = "artifact" + out;
  return out;
}

bool is_safe_segment(std::string_view segment) noexcept {
  if (segment.empty() || segment.front() == '.' || segment.size() > 200) return false;
  return std::all_of(segment.begin(), segment.end(), safe_char);
}

}  // namespace streamer::artifacts
