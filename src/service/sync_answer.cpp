#include "service/sync_answer.hpp"

#include "core/log_event.hpp"
#include "core/time_util.hpp"

namespace streamer {
namespace {

// Sync handlers' progress is not reported anywhere: they answer at once.
struct DiscardProgress final : Progress {
  void report(double, std::string_view, boost::json::object) override {}
};

}  // namespace

std::optional<SyncAnswer> run_sync_handler(Handler& handler, const protocol::Request& req,
                                           const ParsedRequest& request, const Identity& caller,
                                           const CancelToken& cancel, const HandlerEnvironment& env,
                                           std::chrono::steady_clock::time_point received) {
  DiscardProgress progress;
  JobContext ctx{caller, req.id, req.trace_id, 1, progress, cancel, env};
  try {
    HandlerResult result = handler.run_parsed(request, ctx);
    const double took = seconds_between(received, std::chrono::steady_clock::now());
    return SyncAnswer{protocol::success_response(req.id, std::move(result.data), took), "success"};
  } catch (const HandlerError& e) {
    return SyncAnswer{protocol::error_message(req.id, e), to_string(e.code())};
  } catch (const OperationCancelled&) {
    return std::nullopt;
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "handler_exception",
              {{"action", handler.spec().name}, {"request_id", req.id}, {"error", e.what()}});
    return SyncAnswer{protocol::error_message(req.id, ErrorCode::kInternalError, "Internal error"),
                      "INTERNAL_ERROR"};
  }
}

}  // namespace streamer
