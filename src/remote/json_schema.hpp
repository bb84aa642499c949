// A JSON Schema subset, compiled once and checked against payloads. Supported keywords:
// type, properties, required, additionalProperties (bool or schema), enum, const,
// minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern,
// items (one schema), minItems, maxItems; plus the annotations $schema, $id, title,
// description, default, examples, which are ignored. A schema using any other keyword
// is refused at compile time, so a payload is never accepted by a keyword we skipped.
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace streamer::remote {

// A schema that cannot be compiled: `path` is the dotted location in the schema
// ("properties.width.minimum"), `message` says what is wrong there.
class SchemaError : public std::runtime_error {
 public:
  SchemaError(std::string path, const std::string& message)
      : std::runtime_error(message), path_(std::move(path)) {}
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

// The first rule a value breaks, in the seed's VALIDATION_ERROR terms: `field` is the
// dotted path in the payload ("items[2].name", "" for the payload itself).
struct SchemaViolation {
  std::string field;
  std::string expected;
  boost::json::value received;
  std::string message;
};

struct SchemaLimits {
  std::size_t max_depth = 32;            // nesting of subschemas
  std::size_t max_pattern_length = 256;  // characters of a `pattern`
  std::size_t max_pattern_input = 4096;  // longest string a `pattern` is matched against
};

class JsonSchema {
 public:
  // Compiles `schema` (an object, or true/false); throws SchemaError.
  static JsonSchema compile(const boost::json::value& schema, const SchemaLimits& limits = {});

  // The first violation of `value`, or nullopt when it conforms.
  std::optional<SchemaViolation> validate(const boost::json::value& value) const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
};

}  // namespace streamer::remote
