// The web console's static files, compiled into the binary, looked up by the path
// under /console/ that the browser asks for.
#pragma once

#include <optional>
#include <string_view>

namespace streamer {

struct ConsoleAsset {
  std::string_view name;          // e.g. "index.html", "js/app.js"
  std::string_view content_type;  // with charset for text types
  std::string_view body;          // the file's exact bytes
};

// The asset served at `/console` + `rest` (`rest` is the percent-decoded path after
// "/console": "", "/" and "/index.html" all name the page itself). nullopt for any
// other path, including ones with "..", empty segments or a name that is not
// embedded: only embedded files can ever be answered.
std::optional<ConsoleAsset> find_console_asset(std::string_view rest);

// MIME type for an embedded asset's name, by extension (html, js, css, svg, json,
// ico); application/octet-stream otherwise.
std::string_view console_content_type(std::string_view name);

}  // namespace streamer
