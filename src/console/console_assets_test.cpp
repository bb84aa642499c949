#include "console/console_assets.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "console/embedded_file.hpp"

namespace streamer {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(ConsoleAssets, EveryFileOfTheConsoleFolderIsEmbeddedByteForByte) {
  const fs::path dir = STREAMER_CONSOLE_DIR;
  std::size_t on_disk = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    ++on_disk;
    std::string name = fs::relative(entry.path(), dir).generic_string();
    auto asset = find_console_asset("/" + name);
    ASSERT_TRUE(asset) << name;
    EXPECT_EQ(asset->body, read_file(entry.path())) << name;
  }
  std::size_t embedded = 0;
  console_files::embedded_files(embedded);
  EXPECT_EQ(embedded, on_disk);
  EXPECT_GT(embedded, 2u);
}

TEST(ConsoleAssets, ThePageIsServedAtTheFolderItself) {
  auto root = find_console_asset("");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->name, "index.html");
  EXPECT_EQ(root->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(find_console_asset("/")->name, "index.html");
  EXPECT_EQ(find_console_asset("/index.html")->body, root->body);
}

TEST(ConsoleAssets, OnlyEmbeddedNamesAreFound) {
  EXPECT_FALSE(find_console_asset("/../CMakeLists.txt"));
  EXPECT_FALSE(find_console_asset("/js/../index.html"));
  EXPECT_FALSE(find_console_asset("//index.html"));
  EXPECT_FALSE(find_console_asset("/nope.js"));
  EXPECT_FALSE(find_console_asset("x"));  // "/consolex" is another route
  EXPECT_FALSE(find_console_asset("/INDEX.HTML"));
}

TEST(ConsoleAssets, ContentTypesByExtension) {
  EXPECT_EQ(console_content_type("a/b.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(console_content_type("s.css"), "text/css; charset=utf-8");
  EXPECT_EQ(console_content_type("i.svg"), "image/svg+xml");
  EXPECT_EQ(console_content_type("x.bin"), "application/octet-stream");
}

// The console must work without external network: no asset refers to another host.
TEST(ConsoleAssets, NoAssetLoadsAnythingFromAnotherHost) {
  std::size_t count = 0;
  const EmbeddedFile* files = console_files::embedded_files(count);
  const std::regex external(
      R"((src|href)\s*=\s*["']?(https?:)?//|@import\s+url\(\s*["']?(https?:)?//|from\s+["']https?:)",
      std::regex::icase);
  for (std::size_t i = 0; i < count; ++i) {
    std::string body(reinterpret_cast<const char*>(files[i].data), files[i].size);
    EXPECT_FALSE(std::regex_search(body, external)) << files[i].name;
  }
}

}  // namespace
}  // namespace streamer
