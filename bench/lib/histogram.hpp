#pragma once
// Log-linear latency histogram (HdrHistogram-style, ~1.6% relative error).
// Values are nanoseconds; exact below 128 ns, then each power of two is split into
// 64 linear sub-buckets. Not thread-safe: keep one per thread and merge().
#include <array>
#include <cstddef>
#include <cstdint>

namespace bench {

class LatencyHistogram {
 public:
  // Records one value (ns). Values past ~2^40 ns (18 min) land in the last bucket.
  void record(uint64_t ns);
  // Adds every count of `other` into this histogram.
  void merge(const LatencyHistogram& other);
  // Value at quantile q in [0,1] (midpoint of its bucket); 0 when empty.
  uint64_t quantile(double q) const;
  uint64_t count() const { return total_; }
  uint64_t max() const { return max_; }
  double mean() const { return total_ ? double(sum_) / double(total_) : 0.0; }

 private:
  static constexpr int kSubBits = 6;
  static constexpr size_t kLinear = 2u << kSubBits;  // 128 exact buckets
  static constexpr int kMaxShift = 34;
  static constexpr size_t kBuckets = kLinear + kMaxShift * (1u << kSubBits);
  static size_t index_of(uint64_t ns);
  static uint64_t midpoint_of(size_t index);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

}  // namespace bench
