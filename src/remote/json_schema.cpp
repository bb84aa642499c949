#include "remote/json_schema.hpp"

#include <cmath>
#include <cstdio>
#include <set>

namespace streamer::remote {
namespace json = boost::json;

struct JsonSchema::Node {
  bool accept_all = true;  // `true` / `{}`; false for the `false` schema
  bool reject_all = false;
  std::vector<std::string> types;  // empty: any
  std::map<std::string, std::shared_ptr<const Node>, std::less<>> properties;
  std::vector<std::string> required;
  std::optional<bool> additional_allowed;  // additionalProperties: false/true
  std::shared_ptr<const Node> additional;  // additionalProperties: a schema
  std::optional<json::array> enum_values;
  std::optional<json::value> const_value;
  std::optional<double> minimum, maximum, exclusive_minimum, exclusive_maximum;
  std::optional<std::size_t> min_length, max_length, min_items, max_items;
  std::optional<std::regex> pattern;
  std::string pattern_text;
  std::size_t pattern_input = 0;
  std::shared_ptr<const Node> items;
};

namespace {

using Node = JsonSchema::Node;

const std::set<std::string, std::less<>> kTypes = {"null",   "boolean", "object", "array",
                                                   "number", "string",  "integer"};
const std::set<std::string, std::less<>> kAnnotations = {
    "$schema", "$id", "title", "description", "default", "examples", "$comment"};

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

double number_of(const json::value& v) { return v.to_number<double>(); }

bool is_integer(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (!v.is_double()) return false;
  const double d = v.get_double();
  return std::isfinite(d) && std::floor(d) == d;
}

// JSON equality where 1 and 1.0 are the same number.
bool json_equal(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return number_of(a) == number_of(b);
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!json_equal(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const json::value* other = y.if_contains(kv.key());
      if (!other || !json_equal(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

bool has_type(const json::value& v, std::string_view type) {
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_bool();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") return is_integer(v);
  return false;
}

std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::size_t non_negative(const json::value& v, const std::string& path) {
  if (!is_integer(v) || number_of(v) < 0) throw SchemaError(path, "must be a non-negative integer");
  return static_cast<std::size_t>(number_of(v));
}

double number_keyword(const json::value& v, const std::string& path) {
  if (!v.is_number()) throw SchemaError(path, "must be a number");
  return number_of(v);
}

std::shared_ptr<const Node> compile_node(const json::value& schema, const std::string& path,
                                         std::size_t depth, const SchemaLimits& limits) {
  if (depth > limits.max_depth)
    throw SchemaError(path, "schema nests deeper than " + std::to_string(limits.max_depth));
  auto node = std::make_shared<Node>();
  if (schema.is_bool()) {
    node->reject_all = !schema.get_bool();
    return node;
  }
  if (!schema.is_object()) throw SchemaError(path, "a schema must be an object or a boolean");
  for (const auto& kv : schema.get_object()) {
    const std::string key(kv.key());
    const json::value& v = kv.value();
    const std::string at = join(path, key);
    if (kAnnotations.contains(key)) continue;
    if (key == "type") {
      if (v.is_string()) {
        node->types.emplace_back(v.get_string());
      } else if (v.is_array() && !v.get_array().empty()) {
        for (const auto& t : v.get_array()) {
          if (!t.is_string()) throw SchemaError(at, "must be a type name or an array of them");
          node->types.emplace_back(t.get_string());
        }
      } else {
        throw SchemaError(at, "must be a type name or an array of them");
      }
      for (const auto& t : node->types)
        if (!kTypes.contains(t)) throw SchemaError(at, "unknown type '" + t + "'");
    } else if (key == "properties") {
      if (!v.is_object()) throw SchemaError(at, "must be an object of schemas");
      for (const auto& p : v.get_object())
        node->properties[std::string(p.key())] =
            compile_node(p.value(), join(at, p.key()), depth + 1, limits);
    } else if (key == "required") {
      if (!v.is_array()) throw SchemaError(at, "must be an array of property names");
      for (const auto& r : v.get_array()) {
        if (!r.is_string()) throw SchemaError(at, "must be an array of property names");
        node->required.emplace_back(r.get_string());
      }
    } else if (key == "additionalProperties") {
      if (v.is_bool())
        node->additional_allowed = v.get_bool();
      else
        node->additional = compile_node(v, at, depth + 1, limits);
    } else if (key == "enum") {
      if (!v.is_array()) throw SchemaError(at, "must be an array");
      node->enum_values = v.get_array();
    } else if (key == "const") {
      node->const_value = v;
    } else if (key == "minimum") {
      node->minimum = number_keyword(v, at);
    } else if (key == "maximum") {
      node->maximum = number_keyword(v, at);
    } else if (key == "exclusiveMinimum") {
      node->exclusive_minimum = number_keyword(v, at);
    } else if (key == "exclusiveMaximum") {
      node->exclusive_maximum = number_keyword(v, at);
    } else if (key == "minLength") {
      node->min_length = non_negative(v, at);
    } else if (key == "maxLength") {
      node->max_length = non_negative(v, at);
    } else if (key == "minItems") {
      node->min_items = non_negative(v, at);
    } else if (key == "maxItems") {
      node->max_items = non_negative(v, at);
    } else if (key == "pattern") {
      if (!v.is_string()) throw SchemaError(at, "must be a string");
      const std::string text(v.get_string());
      if (text.size() > limits.max_pattern_length)
        throw SchemaError(
            at, "pattern longer than " + std::to_string(limits.max_pattern_length) + " characters");
      try {
        node->pattern.emplace(text, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        throw SchemaError(at, std::string("invalid regular expression: ") + e.what());
      }
      node->pattern_text = text;
      node->pattern_input = limits.max_pattern_input;
    } else if (key == "items") {
      if (!v.is_object() && !v.is_bool()) throw SchemaError(at, "must be one schema");
      node->items = compile_node(v, at, depth + 1, limits);
    } else {
      throw SchemaError(at, "unsupported JSON Schema keyword '" + key + "'");
    }
  }
  return node;
}

std::string index_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string type_list(const std::vector<std::string>& types) {
  std::string out;
  for (const auto& t : types) out += (out.empty() ? "" : " or ") + t;
  return out;
}

SchemaViolation violation(const std::string& field, std::string expected,
                          const json::value& received, const std::string& what) {
  std::string where = field.empty() ? "payload" : field;
  return {field, std::move(expected), received, where + " " + what};
}

std::optional<SchemaViolation> check(const Node& n, const json::value& v, const std::string& path) {
  if (n.reject_all) return violation(path, "nothing (not allowed)", v, "is not allowed");
  if (!n.types.empty()) {
    bool ok = false;
    for (const auto& t : n.types) ok = ok || has_type(v, t);
    if (!ok) return violation(path, type_list(n.types), v, "must be " + type_list(n.types));
  }
  if (n.const_value && !json_equal(*n.const_value, v))
    return violation(path, "const " + json::serialize(*n.const_value), v,
                     "must equal " + json::serialize(*n.const_value));
  if (n.enum_values) {
    bool ok = false;
    for (const auto& e : *n.enum_values) ok = ok || json_equal(e, v);
    if (!ok)
      return violation(path, "one of " + json::serialize(*n.enum_values), v,
                       "must be one of " + json::serialize(*n.enum_values));
  }
  if (v.is_number()) {
    const double x = number_of(v);
    auto fmt = [](double d) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.15g", d);
      return std::string(buf);
    };
    if (n.minimum && x < *n.minimum)
      return violation(path, ">= " + fmt(*n.minimum), v, "must be >= " + fmt(*n.minimum));
    if (n.maximum && x > *n.maximum)
      return violation(path, "<= " + fmt(*n.maximum), v, "must be <= " + fmt(*n.maximum));
    if (n.exclusive_minimum && x <= *n.exclusive_minimum)
      return violation(path, "> " + fmt(*n.exclusive_minimum), v,
                       "must be > " + fmt(*n.exclusive_minimum));
    if (n.exclusive_maximum && x >= *n.exclusive_maximum)
      return violation(path, "< " + fmt(*n.exclusive_maximum), v,
                       "must be < " + fmt(*n.exclusive_maximum));
  }
  if (v.is_string()) {
    const std::string_view s = v.get_string();
    const std::size_t len = utf8_length(s);
    if (n.min_length && len < *n.min_length)
      return violation(path, "string of at least " + std::to_string(*n.min_length) + " characters",
                       v, "is too short");
    if (n.max_length && len > *n.max_length)
      return violation(path, "string of at most " + std::to_string(*n.max_length) + " characters",
                       v, "is too long");
    if (n.pattern) {
      if (s.size() > n.pattern_input)
        return violation(path,
                         "string of at most " + std::to_string(n.pattern_input) +
                             " bytes matching " + n.pattern_text,
                         v, "is too long to match its pattern");
      if (!std::regex_search(s.begin(), s.end(), *n.pattern))
        return violation(path, "string matching " + n.pattern_text, v,
                         "must match " + n.pattern_text);
    }
  }
  if (v.is_array()) {
    const auto& a = v.get_array();
    if (n.min_items && a.size() < *n.min_items)
      return violation(path, "array of at least " + std::to_string(*n.min_items) + " items",
                       json::value(a.size()), "has too few items");
    if (n.max_items && a.size() > *n.max_items)
      return violation(path, "array of at most " + std::to_string(*n.max_items) + " items",
                       json::value(a.size()), "has too many items");
    if (n.items) {
      for (std::size_t i = 0; i < a.size(); ++i)
        if (auto bad = check(*n.items, a[i], index_path(path, i))) return bad;
    }
  }
  if (v.is_object()) {
    const auto& o = v.get_object();
    for (const auto& r : n.required)
      if (!o.contains(r)) return violation(join(path, r), "present", nullptr, "is required");
    for (const auto& kv : o) {
      const std::string at = join(path, kv.key());
      auto p = n.properties.find(kv.key());
      if (p != n.properties.end()) {
        if (auto bad = check(*p->second, kv.value(), at)) return bad;
      } else if (n.additional) {
        if (auto bad = check(*n.additional, kv.value(), at)) return bad;
      } else if (n.additional_allowed == false) {
        return violation(at, "no such property", kv.value(), "is not allowed");
      }
    }
  }
  return std::nullopt;
}

}  // namespace

JsonSchema JsonSchema::compile(const json::value& schema, const SchemaLimits& limits) {
  JsonSchema out;
  out.root_ = compile_node(schema, "", 0, limits);
  return out;
}

std::optional<SchemaViolation> JsonSchema::validate(const json::value& value) const {
  return check(*root_, value, "");
}

}  // namespace streamer::remote
