// The settings each handler reads from its `[handlers.<action>]` table of the TOML
// configuration, and the check that refuses anything else at start (a typo in a key
// would otherwise be ignored and the handler would silently run on its default).
#pragma once

#include <boost/json/object.hpp>
#include <string_view>
#include <vector>

namespace streamer::app {

enum class SettingKind { kNonEmptyString, kPositiveInteger };

struct HandlerSetting {
  std::string_view key;
  SettingKind kind;
};

struct HandlerSettings {
  std::string_view action;
  std::vector<HandlerSetting> keys;
};

// Every handler setting the server reads: generate_report's `database` (the sales
// dataset, sales_database_path()) and process_data's `max_input_bytes` (largest input
// file). A handler that reads a new key adds it here.
const std::vector<HandlerSettings>& known_handler_settings();

// Checks the `[handlers.*]` tables (as JSON): each must name an action of `known` and
// hold only its keys, each of its kind. Throws std::invalid_argument naming the table
// and the key at fault, and listing what is accepted.
void check_handler_settings(const boost::json::object& handlers,
                            const std::vector<HandlerSettings>& known = known_handler_settings());

}  // namespace streamer::app
