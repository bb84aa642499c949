#include "core/json_text.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <vector>

namespace streamer {
namespace json = boost::json;

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the pending run of characters that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

namespace {

template <class T>
void append_number(std::string& out, T v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

bool plain_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

// True when `value` holds a non-finite number; then `path` gets the segments leading
// to it, innermost first.
bool collect_non_finite(const json::value& value, std::vector<std::string>& path) {
  switch (value.kind()) {
    case json::kind::double_:
      return !std::isfinite(value.get_double());
    case json::kind::array: {
      const auto& arr = value.get_array();
      for (std::size_t i = 0; i < arr.size(); ++i) {
        if (collect_non_finite(arr[i], path)) {
          path.push_back("[" + std::to_string(i) + "]");
          return true;
        }
      }
      return false;
    }
    case json::kind::object:
      for (const auto& kv : value.get_object()) {
        if (collect_non_finite(kv.value(), path)) {
          path.push_back(plain_key(kv.key()) ? "." + std::string(kv.key())
                                             : "[" + json_quoted(kv.key()) + "]");
          return true;
        }
      }
      return false;
    default:
      return false;
  }
}

}  // namespace

std::optional<std::string> find_non_finite_number(const json::value& value, std::string_view root) {
  std::vector<std::string> segments;
  if (!collect_non_finite(value, segments)) return std::nullopt;
  std::string path(root);
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) path += *it;
  if (path.starts_with('.')) path.erase(0, 1);
  return path;
}

void append_json_text(std::string& out, const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      out += "null";
      break;
    case json::kind::bool_:
      out += value.get_bool() ? "true" : "false";
      break;
    case json::kind::int64:
      append_number(out, value.get_int64());
      break;
    case json::kind::uint64:
      append_number(out, value.get_uint64());
      break;
    case json::kind::double_: {
      double d = value.get_double();
      if (!std::isfinite(d)) {
        out += "null";
      } else {
        append_number(out, d);  // shortest round-trip; fixed or scientific, whichever is shorter
      }
      break;
    }
    case json::kind::string:
      append_json_string(out, value.get_string());
      break;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& v : value.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json_text(out, v);
      }
      out += ']';
      break;
    }
    case json::kind::object:
      append_json_text(out, value.get_object());
      break;
  }
}

void append_json_text(std::string& out, const json::object& object) {
  out += '{';
  bool first = true;
  for (const auto& kv : object) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, kv.key());
    out += ':';
    append_json_text(out, kv.value());
  }
  out += '}';
}

std::string json_quoted(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

std::string to_json_text(const json::value& value) {
  std::string out;
  out.reserve(256);
  append_json_text(out, value);
  return out;
}

std::string to_json_text(const json::object& object) {
  std::string out;
  out.reserve(256);
  append_json_text(out, object);
  return out;
}

}  // namespace streamer
