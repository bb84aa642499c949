#include "app/handler_settings.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <stdexcept>

namespace streamer::app {
namespace {

std::string refusal(std::string_view handlers_json) {
  try {
    check_handler_settings(boost::json::parse(handlers_json).as_object());
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(HandlerSettings, DeclaredKeysOfTheirKindAreAccepted) {
  EXPECT_EQ(refusal(R"({"generate_report":{"database":"/srv/sales.db"},
                        "process_data":{"max_input_bytes":1048576}})"),
            "(accepted)");
  EXPECT_EQ(refusal(R"({"generate_report":{}})"), "(accepted)");
}

TEST(HandlerSettings, AMisspelledKeyIsRefusedByName) {
  EXPECT_EQ(refusal(R"({"generate_report":{"databse":"/srv/sales.db"}})"),
            "config [handlers.generate_report]: unknown key databse (known keys: database)");
  EXPECT_EQ(refusal(R"({"process_data":{"max_input_byte":5}})"),
            "config [handlers.process_data]: unknown key max_input_byte (known keys: "
            "max_input_bytes)");
}

TEST(HandlerSettings, AMisspelledHandlerIsRefusedWithTheKnownOnes) {
  EXPECT_EQ(refusal(R"({"generate_reports":{"database":"x.db"}})"),
            "config [handlers.generate_reports]: no handler named generate_reports has settings "
            "(handlers with settings: generate_report, process_data)");
}

TEST(HandlerSettings, AValueOfTheWrongKindIsRefused) {
  EXPECT_EQ(refusal(R"({"process_data":{"max_input_bytes":"1GB"}})"),
            "config [handlers.process_data]: max_input_bytes must be a positive integer");
  EXPECT_EQ(refusal(R"({"process_data":{"max_input_bytes":0}})"),
            "config [handlers.process_data]: max_input_bytes must be a positive integer");
  EXPECT_EQ(refusal(R"({"generate_report":{"database":""}})"),
            "config [handlers.generate_report]: database must be a non-empty string");
  EXPECT_EQ(refusal(R"({"generate_report":"x.db"})"),
            "config [handlers.generate_report] must be a table of settings");
}

}  // namespace
}  // namespace streamer::app
