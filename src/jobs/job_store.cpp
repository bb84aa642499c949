#include "jobs/job_store.hpp"

#include <array>
#include <stdexcept>
#include <string>

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

namespace {
[[noreturn]] void unsupported(const char* what) {
  throw std::runtime_error(std::string("this job store does not support ") + what);
}
}  // namespace

JobPage JobStore::list_jobs(const JobQuery&) { unsupported("listing jobs"); }
std::vector<QueueStat> JobStore::queue_stats(const JobScope&) { unsupported("queue statistics"); }
std::vector<JobRecord> JobStore::recent_failures(const JobScope&, std::size_t) {
  unsupported("listing failures");
}
RequeueResult JobStore::requeue_failed(const JobKey&, int, std::string_view) {
  unsupported("retrying jobs");
}
std::size_t JobStore::purge_finished(const JobScope&, SystemTime) { unsupported("scoped purges"); }
std::vector<ProgressStep> JobStore::progress_history(const JobKey&) {
  unsupported("progress history");
}
JobStore::RemoteActionEntry JobStore::put_remote_action(const RemoteActionEntry&, SystemTime) {
  unsupported("a shared registry of remote actions");
}
std::vector<JobStore::RemoteActionEntry> JobStore::live_remote_actions(SystemTime) {
  unsupported("a shared registry of remote actions");
}

std::vector<LeaseState> JobStore::renew_batch(const std::vector<RenewItem>& items,
                                              std::chrono::milliseconds ttl) {
  std::vector<LeaseState> out;
  out.reserve(items.size());
  for (const auto& i : items) out.push_back(renew(i.job_id, i.fence, ttl));
  return out;
}

}  // namespace streamer
