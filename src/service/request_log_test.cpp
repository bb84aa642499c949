#include "service/request_log.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <sstream>

namespace streamer {
namespace {
namespace json = boost::json;

// Captures the default logger's messages (the %v part) for the test's lifetime.
struct CapturedLog {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  CapturedLog() {
    auto logger = std::make_shared<spdlog::logger>(
        "request-log-test", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
    logger->set_pattern("%v");
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous); }
};

TEST(RequestLog, OneParsableLinePerOutcomeWithEveryValueEscaped) {
  CapturedLog log;
  JobRecord job;
  job.key = {"tenant-1", "user-1", R"(r"1","admin":true,"x":")"};
  job.action = "delay";
  job.attempts = 2;
  job.trace_id = "trace\nnext";
  job.created_at = std::chrono::system_clock::now();
  RequestLog().job_finished(job, JobStatus::kFailed, "TIMEOUT", 0.25);
  RequestLog().job_finished(job, JobStatus::kSucceeded, "", 0.5);
  std::istringstream lines(log.out.str());
  std::string first, second, rest;
  ASSERT_TRUE(std::getline(lines, first));
  ASSERT_TRUE(std::getline(lines, second));
  EXPECT_FALSE(std::getline(lines, rest));
  const auto failed = json::parse(first).as_object();
  EXPECT_EQ(failed.size(), 11u);  // no field injected by the request id
  EXPECT_EQ(failed.at("event").as_string(), "request_finished");
  EXPECT_EQ(failed.at("request_id").as_string(), job.key.request_id);
  EXPECT_EQ(failed.at("tenant").as_string(), "tenant-1");
  EXPECT_EQ(failed.at("user").as_string(), "user-1");
  EXPECT_EQ(failed.at("action").as_string(), "delay");
  EXPECT_EQ(failed.at("status").as_string(), "failed");
  EXPECT_EQ(failed.at("code").as_string(), "TIMEOUT");
  EXPECT_EQ(failed.at("run_seconds").as_double(), 0.25);
  EXPECT_GE(failed.at("total_seconds").to_number<double>(), 0.0);
  EXPECT_EQ(failed.at("attempt").as_int64(), 2);
  EXPECT_EQ(failed.at("trace_id").as_string(), "trace\nnext");
  const auto ok = json::parse(second).as_object();
  EXPECT_TRUE(ok.at("code").is_null());
  EXPECT_EQ(ok.at("status").as_string(), "succeeded");
}

}  // namespace
}  // namespace streamer
