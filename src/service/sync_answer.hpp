// Running one sync handler to the answer its client gets, on the calling thread: the
// part shared by the sync pool and inline handlers.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/handler.hpp"
#include "core/protocol.hpp"

namespace streamer {

struct SyncAnswer {
  std::string text;          // the envelope to deliver as the request's reply
  std::string_view outcome;  // "success" or the error code, for the metrics
};

// Runs `handler` on `request` (its parse of `req.payload`). A result becomes a success response
// (processing time counted from `received`), a HandlerError its error envelope, any other exception
// INTERNAL_ERROR (logged, without the payload). nullopt when the handler stopped
// because `cancel` fired: whoever cancelled it answers.
std::optional<SyncAnswer> run_sync_handler(Handler& handler, const protocol::Request& req,
                                           const ParsedRequest& request, const Identity& caller,
                                           const CancelToken& cancel, const HandlerEnvironment& env,
                                           std::chrono::steady_clock::time_point received);

}  // namespace streamer
