#include "lib/options.hpp"

#include <stdexcept>

namespace bench {

Options::Options(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0) throw std::invalid_argument("expected --key, got " + key);
    key = key.substr(2);
    if (i + 1 >= argc) throw std::invalid_argument("missing value for --" + key);
    values_[key] = argv[++i];
  }
}

std::string Options::str(const std::string& key, const std::string& fallback) const {
  const auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

double Options::num(const std::string& key, double fallback) const {
  const auto it = values_.find(key);
  return it == values_.end() ? fallback : std::stod(it->second);
}

long Options::integer(const std::string& key, long fallback) const {
  const auto it = values_.find(key);
  return it == values_.end() ? fallback : std::stol(it->second);
}

}  // namespace bench
