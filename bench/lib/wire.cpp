#include "lib/wire.hpp"

#include <charconv>

namespace bench {
namespace {

void append_id(std::string& out, std::string_view prefix, uint64_t seq) {
  out += prefix;
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, seq);
  out.append(digits, end);
}

// Value of the string field `key` (given with quotes and colon, e.g. "\"type\":\"")
// starting the search at `from`; empty when missing.
std::string_view string_field(std::string_view msg, std::string_view key) {
  const auto at = msg.find(key);
  if (at == std::string_view::npos) return {};
  const auto start = at + key.size();
  const auto end = msg.find('"', start);
  if (end == std::string_view::npos) return {};
  return msg.substr(start, end - start);
}

bool trailing_seq(std::string_view id, uint64_t& seq) {
  size_t i = id.size();
  while (i > 0 && id[i - 1] >= '0' && id[i - 1] <= '9') --i;
  if (i == id.size()) return false;
  seq = 0;
  std::from_chars(id.data() + i, id.data() + id.size(), seq);
  return true;
}

}  // namespace

void build_health(std::string& out, std::string_view prefix, uint64_t seq) {
  out.assign(R"({"id":")");
  append_id(out, prefix, seq);
  out += R"(","action":"health","payload":{}})";
}

void build_delay(std::string& out, std::string_view prefix, uint64_t seq, int duration_ms,
                 int steps, std::string_view action) {
  out.assign(R"({"id":")");
  append_id(out, prefix, seq);
  out += R"(","action":")";
  out += action;
  out += R"(","payload":{"duration_ms":)";
  out += std::to_string(duration_ms);
  out += R"(,"steps":)";
  out += std::to_string(steps);
  out += "}}";
}

Classified classify(std::string_view msg) {
  Classified c;
  const auto type = string_field(msg, R"("type":")");
  if (type.empty()) {
    const auto id = string_field(msg, R"("id":")");
    if (!id.empty()) {
      c.kind = MsgKind::echo;
      c.has_id = trailing_seq(id, c.seq);
    }
    return c;
  }
  if (type == "response") {
    c.kind = string_field(msg, R"("status":")") == "queued" ? MsgKind::queued : MsgKind::success;
  } else if (type == "progress") {
    c.kind = MsgKind::progress;
  } else if (type == "result") {
    c.kind = MsgKind::result;
  } else if (type == "error") {
    c.kind = MsgKind::error;
  }
  const auto id = string_field(msg, R"("request_id":")");
  if (!id.empty()) c.has_id = trailing_seq(id, c.seq);
  return c;
}

std::string_view error_code(std::string_view msg) { return string_field(msg, R"("code":")"); }

}  // namespace bench
