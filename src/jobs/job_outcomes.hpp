// The terminal `error` messages the job runners record themselves (not a handler's own
// error): cancelled, timed out, attempts exhausted. Built-in workers and the remote
// dispatcher record the same texts, so a client cannot tell who ran the job.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace streamer {

// The error code and message of a stored `error` outcome; empty when the text is a
// `result`, or not JSON.
struct StoredError {
  std::string code;
  std::string message;
};
StoredError stored_error(std::string_view outcome_json);

// CANCELLED, not retryable.
std::string cancelled_message(const std::string& request_id);
// TIMEOUT with details.time_limit_ms.
std::string timeout_message(const std::string& request_id, std::chrono::milliseconds limit);
// INTERNAL_ERROR (retryable, as the seed's table says) with details.attempts and
// details.last_error: the job failed retryably, or its workers died, `attempts` times.
std::string exhausted_message(const std::string& request_id, int attempts,
                              std::string_view last_error);

}  // namespace streamer
