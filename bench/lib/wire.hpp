#pragma once
// The few protocol messages the load generator sends, and a cheap classifier for what
// comes back (string search, no JSON parse, so the client costs little per message).
// Request ids are "<prefix><seq>"; the classifier returns the numeric <seq>.
#include <cstdint>
#include <string>
#include <string_view>

namespace bench {

enum class MsgKind { success, queued, progress, result, error, echo, unknown };

struct Classified {
  MsgKind kind = MsgKind::unknown;
  uint64_t seq = 0;     // trailing decimal digits of the request id
  bool has_id = false;  // false for errors with request_id null
};

// Writes {"id":"<prefix><seq>","action":"health","payload":{}} into `out`.
void build_health(std::string& out, std::string_view prefix, uint64_t seq);
// Writes a `delay` request {duration_ms, steps} into `out`; with `action`, the same
// payload for that action instead (a remote worker's).
void build_delay(std::string& out, std::string_view prefix, uint64_t seq, int duration_ms,
                 int steps, std::string_view action = "delay");
// Classifies a server message by its "type" (and "status" for responses). A message
// without "type" but with "id" (the echo server's reply) is MsgKind::echo.
Classified classify(std::string_view msg);
// The error code ("RATE_LIMITED", ...) of an error message, or "" if none.
std::string_view error_code(std::string_view msg);

}  // namespace bench
