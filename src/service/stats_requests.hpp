// `stats.watch` and `stats.unwatch`: the requests that start and stop a connection's
// live stats feed (StatsFeed). Answered at once on the calling thread (no store access).
#pragma once

#include <memory>

#include "core/protocol.hpp"
#include "service/service_session.hpp"
#include "service/stats_feed.hpp"

namespace streamer {

// True when `action` is one of the feed's requests.
bool is_stats_action(std::string_view action);

// Answers `req` (stats.watch or stats.unwatch) on `conn`; returns the outcome for the
// metrics ("success" or the error code).
std::string_view handle_stats_request(StatsFeed* feed, const std::shared_ptr<ServiceSession>& conn,
                                      const protocol::Request& req, double processing_seconds);

}  // namespace streamer
