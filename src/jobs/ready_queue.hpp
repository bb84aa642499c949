// Jobs claimed from the store for this process's workers: a LazyWakeQueue of leases.
// A worker that is awake runs queued jobs back to back; a sleeping one is woken only
// when a job would otherwise wait (no worker free, or every running job stuck past
// stall_after), which took a futex wake and two context switches off every `delay 0`
// job. See core/lazy_wake_queue.hpp for the policy.
#pragma once

#include "core/lazy_wake_queue.hpp"
#include "jobs/job_store.hpp"

namespace streamer {

using ReadyQueue = LazyWakeQueue<Lease>;

}  // namespace streamer
