#include "jobs/job_store.hpp"

#include <array>

namespace streamer {
namespace {
constexpr std::array<std::string_view, 5> kStatusNames{"queued", "running", "succeeded", "failed",
                                                       "cancelled"};
}

std::string_view to_string(JobStatus status) noexcept {
  return kStatusNames[static_cast<std::size_t>(status)];
}

std::string_view to_string(QueueLimit limit) noexcept {
  switch (limit) {
    case QueueLimit::kQueuedPerTenant:
      return "queued_per_tenant";
    case QueueLimit::kQueuedPerUser:
      return "queued_per_user";
    default:
      return "none";
  }
}

std::optional<JobStatus> job_status_from_string(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kStatusNames.size(); ++i) {
    if (kStatusNames[i] == text) return static_cast<JobStatus>(i);
  }
  return std::nullopt;
}

JobStore::RoundResult JobStore::commit_round(const Round& round) {
  RoundResult out;
  out.finished = finish_batch(round.worker_id, round.finishes);
  if (round.claim_runnable) out.claimed = acquire_batch(round.worker_id, round.lease_ttl, round.max_claims);
  out.submitted = submit_batch(round.submits);
  if (out.claimed.size() < round.max_claims) {
    // Then the new jobs, in order (they are the oldest runnable ones now).
    for (auto& lease : acquire_batch(round.worker_id, round.lease_ttl, round.max_claims - out.claimed.size())) {
      for (auto& s : out.submitted) {
        if (s.created && s.record.job_id == lease.record.job_id) s.record = lease.record;
      }
      out.claimed.push_back(std::move(lease));
    }
  }
  if (round.claim_runnable && round.max_claims > 0 && out.claimed.size() < round.max_claims) {
    out.next_wakeup = next_wakeup();
  }
  // Without a backend's own answer, assume a short claim may have left capped jobs.
  out.capped = limits_.max_running_per_tenant > 0 && out.claimed.size() < round.max_claims;
  return out;
}

}  // namespace streamer
