// A file compiled into the binary (cmake/embed_files.cmake generates the table).
#pragma once

#include <cstddef>

namespace streamer {

struct EmbeddedFile {
  const char* name;           // path relative to the embedded folder, '/'-separated
  const unsigned char* data;  // exactly `size` bytes
  std::size_t size;
};

}  // namespace streamer

namespace streamer::console_files {
// The web console's files (the repository's console/ folder); `count` receives the
// number of entries.
const EmbeddedFile* embedded_files(std::size_t& count);
}  // namespace streamer::console_files
