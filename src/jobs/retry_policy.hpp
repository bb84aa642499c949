// Exponential backoff with jitter for retryable job failures.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace streamer {

struct RetryPolicy {
  std::chrono::milliseconds base{500};
  std::chrono::milliseconds cap{60'000};

  // Delay before attempt `failed_attempt + 1`: base * 2^(failed_attempt - 1), capped,
  // then scaled by a uniform factor in [0.5, 1.0] so that retries of many jobs that
  // failed together do not arrive together.
  template <class Rng>
  std::chrono::milliseconds delay_after(int failed_attempt, Rng& rng) const {
    const int shift = std::clamp(failed_attempt - 1, 0, 20);
    auto raw = std::min<long long>(cap.count(), base.count() * (1LL << shift));
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return std::chrono::milliseconds(static_cast<long long>(raw * jitter(rng)));
  }
};

}  // namespace streamer
