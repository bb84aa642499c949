#include "app/buffered_log_sink.hpp"

#include "core/log_batch.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace streamer::app {
namespace {
using namespace std::chrono_literals;

// A pipe whose read end never blocks: what the sink has written so far.
struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() {
    EXPECT_EQ(::pipe(fds), 0);
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  }
  ~Pipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  std::string read_all() {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, n);
    return out;
  }
};

// A logger on `sink` that is also the default logger (LogBatch flushes that one).
struct DefaultLogger {
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  std::shared_ptr<spdlog::logger> log;
  explicit DefaultLogger(std::shared_ptr<BufferedLogSink> sink)
      : log(std::make_shared<spdlog::logger>("test", std::move(sink))) {
    log->set_pattern("%l %v");
    log->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(log);
  }
  ~DefaultLogger() { spdlog::set_default_logger(previous); }
};

// A logger on `sink` that is not the default one: destroying it and the sink leaves
// nothing else holding the sink.
std::shared_ptr<spdlog::logger> own_logger(std::shared_ptr<BufferedLogSink> sink) {
  auto log = std::make_shared<spdlog::logger>("test", std::move(sink));
  log->set_pattern("%l %v");
  return log;
}

TEST(BufferedLogSink, OutsideABatchEachLineIsWrittenAtOnce) {
  Pipe pipe;
  auto sink = std::make_shared<BufferedLogSink>(pipe.fds[1], 4096);
  DefaultLogger logger(sink);
  logger.log->info("a");
  EXPECT_EQ(pipe.read_all(), "info a\n");
  logger.log->info("b");
  EXPECT_EQ(pipe.read_all(), "info b\n");
  EXPECT_EQ(sink->writes(), 2u);
}

TEST(BufferedLogSink, ABatchsLinesAreWrittenTogetherWhenItCloses) {
  Pipe pipe;
  auto sink = std::make_shared<BufferedLogSink>(pipe.fds[1], 4096);
  DefaultLogger logger(sink);
  {
    LogBatch batch;
    logger.log->info("one");
    {
      LogBatch inner;  // nested: only the outermost writes
      logger.log->info("two");
    }
    EXPECT_EQ(pipe.read_all(), "");
  }
  EXPECT_EQ(pipe.read_all(), "info one\ninfo two\n");
  EXPECT_EQ(sink->writes(), 1u);
}

TEST(BufferedLogSink, AnotherThreadsLineIsWrittenAtOnceAfterTheHeldOnes) {
  Pipe pipe;
  auto sink = std::make_shared<BufferedLogSink>(pipe.fds[1], 4096);
  DefaultLogger logger(sink);
  LogBatch batch;
  logger.log->info("held");
  std::thread([&] { logger.log->info("other"); }).join();
  EXPECT_EQ(pipe.read_all(), "info held\ninfo other\n");
}

TEST(BufferedLogSink, AWarningInABatchIsWrittenBeforeItsCallReturns) {
  Pipe pipe;
  auto sink = std::make_shared<BufferedLogSink>(pipe.fds[1], 4096);
  DefaultLogger logger(sink);
  LogBatch batch;
  logger.log->info("one");
  logger.log->warn("two");
  EXPECT_EQ(pipe.read_all(), "info one\nwarning two\n");
  EXPECT_EQ(sink->writes(), 1u);
}

TEST(BufferedLogSink, HeldLinesAreWrittenWhenTheyFillTheBuffer) {
  Pipe pipe;
  auto sink = std::make_shared<BufferedLogSink>(pipe.fds[1], 32);
  DefaultLogger logger(sink);
  LogBatch batch;
  logger.log->info("aaaaaaaaaa");  // 16 bytes with "info " and the newline
  EXPECT_EQ(pipe.read_all(), "");
  logger.log->info("bbbbbbbbbb");  // 32: full
  EXPECT_EQ(pipe.read_all(), "info aaaaaaaaaa\ninfo bbbbbbbbbb\n");
}

TEST(BufferedLogSink, DestroyingTheSinkWritesWhatIsHeld) {
  Pipe pipe;
  {
    auto sink = std::make_shared<BufferedLogSink>(pipe.fds[1], 4096);
    auto log = own_logger(sink);
    LogBatch batch;
    log->info("last words");
    EXPECT_EQ(pipe.read_all(), "");
    log.reset();
    sink.reset();
    EXPECT_EQ(pipe.read_all(), "info last words\n");
  }
}

TEST(BufferedLogSink, ZeroBytesHoldsNothingEvenInABatch) {
  Pipe pipe;
  auto sink = std::make_shared<BufferedLogSink>(pipe.fds[1], 0);
  DefaultLogger logger(sink);
  LogBatch batch;
  logger.log->info("a");
  EXPECT_EQ(pipe.read_all(), "info a\n");
}

TEST(BufferedLogSink, PastTheBurstLinesWaitForTheWindowsEndAndAreWrittenTogether) {
  Pipe pipe;
  auto sink = std::make_shared<BufferedLogSink>(pipe.fds[1], 4096, WriteRate{2, 200ms});
  DefaultLogger logger(sink);
  logger.log->info("a");
  logger.log->info("b");  // the burst: each written at once
  EXPECT_EQ(pipe.read_all(), "info a\ninfo b\n");
  logger.log->info("c");
  logger.log->info("d");
  EXPECT_EQ(pipe.read_all(), "");  // held for the window's end
  std::string later;
  for (int i = 0; i < 200 && later.empty(); ++i) {
    std::this_thread::sleep_for(5ms);
    later = pipe.read_all();
  }
  EXPECT_EQ(later, "info c\ninfo d\n");
  EXPECT_EQ(sink->writes(), 3u);
}

TEST(BufferedLogSink, AWarningWritesTheLinesHeldForTheRateAtOnce) {
  Pipe pipe;
  auto sink = std::make_shared<BufferedLogSink>(pipe.fds[1], 4096, WriteRate{1, 10s});
  DefaultLogger logger(sink);
  logger.log->info("a");
  logger.log->info("b");
  EXPECT_EQ(pipe.read_all(), "info a\n");
  logger.log->warn("c");
  EXPECT_EQ(pipe.read_all(), "info b\nwarning c\n");
}

TEST(BufferedLogSink, ANewWindowWritesAtOnceAgain) {
  Pipe pipe;
  auto sink = std::make_shared<BufferedLogSink>(pipe.fds[1], 4096, WriteRate{1, 30ms});
  DefaultLogger logger(sink);
  logger.log->info("a");
  EXPECT_EQ(pipe.read_all(), "info a\n");
  std::this_thread::sleep_for(60ms);  // a quiet window later
  logger.log->info("b");
  EXPECT_EQ(pipe.read_all(), "info b\n");
}

TEST(BufferedLogSink, LinesHeldForTheRateAreWrittenWhenTheSinkIsDestroyed) {
  Pipe pipe;
  {
    auto log = own_logger(std::make_shared<BufferedLogSink>(pipe.fds[1], 4096, WriteRate{1, 10s}));
    log->info("first");
    log->info("held");
    EXPECT_EQ(pipe.read_all(), "info first\n");
  }
  EXPECT_EQ(pipe.read_all(), "info held\n");
}

}  // namespace
}  // namespace streamer::app
