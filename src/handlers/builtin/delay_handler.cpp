#include "handlers/builtin/delay_handler.hpp"

namespace streamer {
namespace json = boost::json;

namespace {

// Reads an optional integer field within [lo, hi]; throws the seed's validation error.
std::int64_t int_field(const json::object& payload, std::string_view name, std::int64_t lo,
                       std::int64_t hi, std::optional<std::int64_t> fallback) {
  auto it = payload.find(name);
  const std::string expected = "integer " + std::to_string(lo) + ".." + std::to_string(hi);
  if (it == payload.end()) {
    if (fallback) return *fallback;
    throw HandlerError::validation(name, expected, nullptr, std::string(name) + " is required");
  }
  const json::value& v = it->value();
  std::int64_t n;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(hi)) {
    n = static_cast<std::int64_t>(v.get_uint64());
  } else if (v.is_double() &&
             v.get_double() == static_cast<double>(static_cast<std::int64_t>(v.get_double()))) {
    n = static_cast<std::int64_t>(v.get_double());
  } else {
    throw HandlerError::validation(name, expected, v, std::string(name) + " must be an integer");
  }
  if (n < lo || n > hi)
    throw HandlerError::validation(name, expected, v, std::string(name) + " is out of range");
  return n;
}

}  // namespace

DelayHandler::DelayHandler(bool fault_injection)
    : TypedWaitingHandler(HandlerSpec{.name = "delay",
                                      .estimated_duration = std::chrono::milliseconds(1000),
                                      .permission = "",
                                      .time_limit = std::chrono::milliseconds(660'000),
                                      .max_attempts = 3,
                                      .execution = Execution::kAsync}),
      fault_injection_(fault_injection) {}

DelayRequest DelayHandler::parse(const json::object& payload) const {
  DelayRequest request;
  request.duration =
      std::chrono::milliseconds(int_field(payload, "duration_ms", 0, 600'000, std::nullopt));
  request.steps = int_field(payload, "steps", 1, 1000, 1);
  if (fault_injection_) request.fail_attempts = int_field(payload, "fail_attempts", 0, 100, 0);
  return request;
}

boost::asio::awaitable<HandlerResult> DelayHandler::run(const DelayRequest& request,
                                                        JobContext& ctx) {
  const auto duration = request.duration;
  const auto steps = request.steps;
  if (ctx.attempt <= request.fail_attempts) {
    throw std::runtime_error("injected failure on attempt " + std::to_string(ctx.attempt));
  }
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t i = 1; i <= steps; ++i) {
    // Wait until this step's share of the total has elapsed (no drift across steps).
    auto step_end = start + duration * i / steps;
    // Awaited into a variable, not inside the `if` (see docs/handlers.md: GCC 12).
    const bool waited = co_await wait_until(ctx.cancel, step_end);
    if (!waited) throw OperationCancelled{};
    json::object meta;
    meta["current_step"] = "waiting";
    meta["steps_done"] = i;
    meta["steps_total"] = steps;
    ctx.progress.report(100.0 * static_cast<double>(i) / static_cast<double>(steps),
                        "Step " + std::to_string(i) + "/" + std::to_string(steps), std::move(meta));
  }
  json::object data;
  data["slept_ms"] = duration.count();
  data["steps"] = steps;
  HandlerResult result;
  result.data = std::move(data);
  co_return result;
}

}  // namespace streamer
