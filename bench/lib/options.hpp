#pragma once
// Command-line options of streamer-bench: `--key value` pairs after the scenario name.
#include <map>
#include <string>

namespace bench {

class Options {
 public:
  // Parses argv[first..argc). Throws std::invalid_argument on a dangling key.
  Options(int argc, char** argv, int first);
  std::string str(const std::string& key, const std::string& fallback = "") const;
  double num(const std::string& key, double fallback) const;
  long integer(const std::string& key, long fallback) const;
  bool has(const std::string& key) const { return values_.count(key) != 0; }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace bench
