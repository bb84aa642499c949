#include "app/handler_settings.hpp"

#include <stdexcept>
#include <string>

namespace streamer::app {
namespace json = boost::json;

const std::vector<HandlerSettings>& known_handler_settings() {
  static const std::vector<HandlerSettings> known{
      {"generate_report", {{"database", SettingKind::kNonEmptyString}}},
      {"process_data", {{"max_input_bytes", SettingKind::kPositiveInteger}}},
  };
  return known;
}

namespace {

std::string join(const auto& items, auto name_of) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + std::string(name_of(item));
  return out;
}

bool has_kind(const json::value& v, SettingKind kind) {
  switch (kind) {
    case SettingKind::kNonEmptyString:
      return v.is_string() && !v.get_string().empty();
    case SettingKind::kPositiveInteger:
      return (v.is_int64() && v.get_int64() > 0) || (v.is_uint64() && v.get_uint64() > 0);
  }
  return false;
}

const char* kind_name(SettingKind kind) {
  switch (kind) {
    case SettingKind::kNonEmptyString:
      return "a non-empty string";
    case SettingKind::kPositiveInteger:
      return "a positive integer";
  }
  return "?";
}

}  // namespace

void check_handler_settings(const json::object& handlers,
                            const std::vector<HandlerSettings>& known) {
  const auto actions = join(known, [](const HandlerSettings& h) { return h.action; });
  for (const auto& [action, table] : handlers) {
    const std::string where = "config [handlers." + std::string(action) + "]";
    const HandlerSettings* declared = nullptr;
    for (const auto& h : known) declared = h.action == action ? &h : declared;
    if (!declared)
      throw std::invalid_argument(where + ": no handler named " + std::string(action) +
                                  " has settings (handlers with settings: " + actions + ")");
    if (!table.is_object()) throw std::invalid_argument(where + " must be a table of settings");
    const auto keys = join(declared->keys, [](const HandlerSetting& k) { return k.key; });
    for (const auto& [key, value] : table.get_object()) {
      const HandlerSetting* setting = nullptr;
      for (const auto& k : declared->keys) setting = k.key == key ? &k : setting;
      if (!setting)
        throw std::invalid_argument(where + ": unknown key " + std::string(key) +
                                    " (known keys: " + keys + ")");
      if (!has_kind(value, setting->kind))
        throw std::invalid_argument(where + ": " + std::string(key) + " must be " +
                                    kind_name(setting->kind));
    }
  }
}

}  // namespace streamer::app
