// ProcessDataHandler and StreamAppendHandler through their public Handler API, with a
// real ArtifactStore: result shape, progress stages, destination copy, typed errors.
#include <gtest/gtest.h>

#include "artifacts/artifact_store.hpp"
#include "handlers/process/process_data_handler.hpp"
#include "handlers/process/stream_append_handler.hpp"
#include "handlers/process/test_util.hpp"

using namespace streamer;
using namespace streamer::process;

namespace {

struct Recorder : Progress {
  std::vector<std::pair<double, std::string>> seen;
  void report(double pct, std::string_view, boost::json::object md) override {
    seen.emplace_back(pct, std::string(md.at("current_step").as_string()));
  }
};

struct Fixture : ::testing::Test {
  testutil::TempDir dir;
  ArtifactStore store{ArtifactStoreOptions{dir.path / "artifacts", "http://127.0.0.1:1", "key"}};
  HandlerEnvironment env{dir.path, &store, {}};
  Identity id{"u", "t1", {"write"}};
  Recorder progress;
  CancelToken cancel;
  JobContext ctx{id, "req-1", "trace", 1, progress, cancel, env};
};

}  // namespace

TEST_F(Fixture, DeclaresTheirModesAndPermissions) {
  ProcessDataHandler process;
  EXPECT_TRUE(process.is_async());
  EXPECT_EQ(process.spec().permission, "write");
  StreamAppendHandler append;
  EXPECT_FALSE(append.is_async());
  EXPECT_FALSE(append.runs_inline());
}

TEST_F(Fixture, StreamToJsonWithDestination) {
  StreamAppendHandler append;
  boost::json::array recs;
  for (int i = 0; i < 300; ++i)
    recs.push_back(boost::json::object{{"x", (i % 3) * 10 + (i % 7) * 0.1}, {"y", i % 3}});
  auto ack =
      parse_and_run(append, boost::json::object{{"stream_id", "s1"}, {"records", recs}}, ctx);
  EXPECT_EQ(ack.data.at("total_records").as_uint64(), 300u);

  ProcessDataHandler h;
  auto payload = boost::json::parse(
                     R"({"pipeline":"clustering","data_source":{"type":"stream","stream_id":"s1"},
      "output":{"format":"json","destination":"/out/"},"options":{"k":3,"features":["x"]}})")
                     .as_object();
  auto res = parse_and_run(h, payload, ctx);
  const auto& d = res.data.as_object();
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(d.at("summary").at("total_records").as_uint64(), 300u);
  EXPECT_EQ(d.at("data").as_array().size(), 100u);
  EXPECT_NE(d.at("output_location").as_string().find("sig="), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir.path / "files" / "t1" / "out" /
                                      "process_data-clustering-req-1.json"));
  // Stages in order, within their ranges.
  double last = -1;
  for (auto& [pct, step] : progress.seen) {
    EXPECT_GE(pct, last);
    last = pct;
  }
  EXPECT_EQ(progress.seen.front().second, "data_ingestion");
  EXPECT_EQ(progress.seen.back().second, "post_processing");
}

TEST_F(Fixture, TypedErrors) {
  ProcessDataHandler h;
  auto run = [&](const char* json) {
    try {
      parse_and_run(h, boost::json::parse(json).as_object(), ctx);
    } catch (const HandlerError& e) {
      return e.code();
    }
    return ErrorCode::kCancelled;
  };
  EXPECT_EQ(
      run(R"({"pipeline":"anomaly","data_source":{"type":"file","path":"/none.csv"},"output":{"format":"csv"}})"),
      ErrorCode::kNotFound);
  EXPECT_EQ(
      run(R"({"pipeline":"anomaly","data_source":{"type":"stream","stream_id":"nope"},"output":{"format":"csv"}})"),
      ErrorCode::kNotFound);
  EXPECT_EQ(
      run(R"({"pipeline":"anomaly","data_source":{"type":"query","query":"DELETE FROM x"},"output":{"format":"csv"}})"),
      ErrorCode::kValidationError);
  cancel.cancel(CancelToken::Reason::kCancelled);
  testutil::write_file(dir.path / "files" / "t1" / "a.csv", "a,b\n1,2\n3,4\n");
  EXPECT_THROW(
      parse_and_run(
          h,
          boost::json::parse(R"({"pipeline":"anomaly","data_source":{"type":"file","path":"/a.csv"},
      "output":{"format":"csv"}})")
              .as_object(),
          ctx),
      OperationCancelled);
}
