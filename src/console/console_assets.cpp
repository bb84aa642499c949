#include "console/console_assets.hpp"

#include "console/embedded_file.hpp"

namespace streamer {

std::string_view console_content_type(std::string_view name) {
  auto ends = [&](std::string_view ext) { return name.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".json")) return "application/json";
  if (ends(".ico")) return "image/x-icon";
  return "application/octet-stream";
}

std::optional<ConsoleAsset> find_console_asset(std::string_view rest) {
  if (rest.empty() || rest == "/") rest = "/index.html";
  if (!rest.starts_with('/')) return std::nullopt;  // "/consoleX" is not ours
  std::string_view name = rest.substr(1);
  // Exact match against the embedded table: a traversal attempt ("../x") or any
  // other unknown name simply matches nothing.
  std::size_t count = 0;
  const EmbeddedFile* files = console_files::embedded_files(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (name == files[i].name) {
      return ConsoleAsset{
          files[i].name, console_content_type(files[i].name),
          std::string_view(reinterpret_cast<const char*>(files[i].data), files[i].size)};
    }
  }
  return std::nullopt;
}

}  // namespace streamer
