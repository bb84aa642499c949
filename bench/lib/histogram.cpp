#include "lib/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace bench {

size_t LatencyHistogram::index_of(uint64_t ns) {
  if (ns < kLinear) return size_t(ns);
  const int msb = 63 - __builtin_clzll(ns);  // >= 7
  const int shift = msb - kSubBits;          // >= 1
  if (shift > kMaxShift) return kBuckets - 1;
  const uint64_t top = ns >> shift;  // in [64, 127]
  return kLinear + size_t(shift - 1) * (1u << kSubBits) + size_t(top - (1u << kSubBits));
}

uint64_t LatencyHistogram::midpoint_of(size_t index) {
  if (index < kLinear) return index;
  const size_t rel = index - kLinear;
  const int shift = int(rel >> kSubBits) + 1;
  const uint64_t top = (rel & ((1u << kSubBits) - 1)) + (1u << kSubBits);
  const uint64_t lower = top << shift;
  return lower + ((uint64_t(1) << shift) >> 1);
}

void LatencyHistogram::record(uint64_t ns) {
  ++counts_[index_of(ns)];
  ++total_;
  sum_ += ns;
  max_ = std::max(max_, ns);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::quantile(double q) const {
  if (total_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<uint64_t>(1, uint64_t(std::ceil(q * double(total_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(midpoint_of(i), max_);
  }
  return max_;
}

}  // namespace bench
