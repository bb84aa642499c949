// Finds a request's id without parsing the request: used for messages the gateway
// refuses unread (over the message rate), so the refusal can still name the request.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace streamer::protocol {

// The value of the top-level "id" key of `frame` (a string, or an integer as its
// decimal text, as parse_request reads it), looking only at the first `max_scan`
// bytes. nullopt when the id is not a string or integer, does not start and end within
// that prefix, or the prefix is not the start of a JSON object. The cost is bounded by
// max_scan whatever the frame's size; the rest of the frame is never read.
std::optional<std::string> peek_request_id(std::string_view frame, std::size_t max_scan = 512);

}  // namespace streamer::protocol
