#include "service/stats_requests.hpp"

#include "handlers/admin/admin_payload.hpp"

namespace streamer {
namespace json = boost::json;

bool is_stats_action(std::string_view action) {
  return action == "stats.watch" || action == "stats.unwatch";
}

namespace {

std::string_view answer_error(const std::shared_ptr<ServiceSession>& conn,
                              const protocol::Request& req, const HandlerError& e) {
  conn->deliver(req.id, MessageKind::kNotice, protocol::error_message(req.id, e));
  return to_string(e.code());
}

json::value scope_value(const std::optional<std::string>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

}  // namespace

std::string_view handle_stats_request(StatsFeed* feed, const std::shared_ptr<ServiceSession>& conn,
                                      const protocol::Request& req, double processing_seconds) {
  try {
    if (!feed)
      throw HandlerError(ErrorCode::kInvalidAction, "The stats feed is off on this server");
    if (req.action == "stats.unwatch") {
      auto target = admin::optional_string(req.payload, "request_id");
      if (!target) {
        throw HandlerError::validation("request_id", "the id of a stats.watch request", nullptr,
                                       "payload.request_id is required");
      }
      if (!feed->unwatch(conn.get(), *target)) {
        json::object details;
        details["request_id"] = *target;
        throw HandlerError(ErrorCode::kNotFound, "No such stats feed on this connection",
                           std::move(details));
      }
      json::object data;
      data["request_id"] = *target;
      data["watching"] = false;
      conn->deliver(req.id, MessageKind::kNotice,
                    protocol::success_response(req.id, data, processing_seconds));
      return "success";
    }
    if (req.payload.contains("user_id")) {
      throw HandlerError::validation("user_id", "absent (a feed covers a tenant or everything)",
                                     req.payload.at("user_id"), "stats.watch takes no user_id");
    }
    JobScope scope = admin::requested_scope(req.payload, conn->identity());
    json::object data;
    data["interval"] = std::chrono::duration<double>(feed->options().interval).count();
    json::object s;
    s["tenant_id"] = scope_value(scope.tenant_id);
    s["user_id"] = scope_value(scope.user_id);
    data["scope"] = std::move(s);
    const bool started = feed->watch(conn, req.id, std::move(scope), [&] {
      conn->deliver(req.id, MessageKind::kNotice,
                    protocol::success_response(req.id, data, processing_seconds));
    });
    if (!started) {
      conn->deliver(req.id, MessageKind::kNotice,
                    protocol::rate_limited_message(
                        req.id, "stats_watchers",
                        static_cast<std::int64_t>(feed->options().max_watchers), 5000));
      return "RATE_LIMITED";
    }
    return "success";
  } catch (const HandlerError& e) {
    return answer_error(conn, req, e);
  }
}

}  // namespace streamer
