// The JSON the admin API answers with for a stored job: a list row and the full view.
#pragma once

#include <boost/json.hpp>
#include <vector>

#include "jobs/job_outcomes.hpp"
#include "jobs/job_store.hpp"

namespace streamer::admin {

// A jobs.list row: identity, action, status, attempts, latest percent, error code, times.
boost::json::object job_summary(const JobRecord& job);
// jobs.get: everything stored, with the payload, latest progress and outcome parsed,
// the artifact links found in the result, and the progress history (oldest step first:
// attempt, time, percent and message of each step).
boost::json::object job_detail(const JobRecord& job, const std::vector<ProgressStep>& history);

// The error code and message of a stored `error` outcome; empty when it is not one.
StoredError stored_error(const JobRecord& job);

// Timestamps in the admin views keep milliseconds ("2026-11-30T22:40:01.123Z").
std::string format_ms_timestamp(SystemTime t);

}  // namespace streamer::admin
