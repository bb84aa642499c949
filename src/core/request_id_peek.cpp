#include "core/request_id_peek.hpp"

#include <boost/json/basic_parser_impl.hpp>

namespace streamer::protocol {
namespace {

// A SAX handler for boost::json::basic_parser that records the top-level "id" and
// stops the parse (returns false) as soon as it has it, or as soon as it is clear the
// frame has none it could use.
struct IdHandler {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = 64;
  static constexpr std::size_t max_string_size = 1024;

  int depth = 0;
  bool at_id = false;  // the next top-level value is the id
  std::string key;
  std::optional<std::string> id;
  bool complete = false;  // the id's value ended inside the scanned prefix

  // A top-level value other than the id's: keep going. The id's: stop either way.
  bool value_seen() { return !(depth == 1 && at_id); }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    if (depth == 1 && at_id) return false;
    ++depth;
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    --depth;
    return depth > 0;
  }
  bool on_array_begin(boost::system::error_code&) {
    if (depth == 0 || (depth == 1 && at_id)) return false;
    ++depth;
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    --depth;
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    if (depth == 1) key.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    if (depth == 1) {
      key.append(s.data(), s.size());
      at_id = key == "id";
      key.clear();
    }
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    if (depth == 1 && at_id) {
      if (!id) id.emplace();
      id->append(s.data(), s.size());
    }
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    if (depth == 1 && at_id) {
      if (!id) id.emplace();
      id->append(s.data(), s.size());
      complete = true;
      return false;
    }
    return depth > 0;
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t v, boost::json::string_view, boost::system::error_code&) {
    if (depth == 1 && at_id) id = std::to_string(v), complete = true;
    return value_seen() && depth > 0;
  }
  bool on_uint64(std::uint64_t v, boost::json::string_view, boost::system::error_code&) {
    if (depth == 1 && at_id) id = std::to_string(v), complete = true;
    return value_seen() && depth > 0;
  }
  bool on_double(double, boost::json::string_view, boost::system::error_code&) {
    return value_seen() && depth > 0;
  }
  bool on_bool(bool, boost::system::error_code&) { return value_seen() && depth > 0; }
  bool on_null(boost::system::error_code&) { return value_seen() && depth > 0; }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }
};

}  // namespace

std::optional<std::string> peek_request_id(std::string_view frame, std::size_t max_scan) {
  const std::string_view prefix = frame.substr(0, max_scan);
  boost::json::parse_options options;
  options.max_depth = 64;
  boost::json::basic_parser<IdHandler> parser(options);
  boost::system::error_code ec;
  // more = true: the prefix may end anywhere; the handler stops the parse at the id.
  parser.write_some(prefix.size() < frame.size(), prefix.data(), prefix.size(), ec);
  IdHandler& h = parser.handler();
  if (!h.complete) return std::nullopt;  // no id, or one cut by the end of the prefix
  return h.id;
}

}  // namespace streamer::protocol
