#include "service/metrics.hpp"

#include <fmt/format.h>

namespace streamer {
namespace {

// Label values come from handler names and error codes, but escape anyway.
std::string escape_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void Metrics::record_request(std::string_view action, std::string_view outcome, double latency_seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(action), std::string(outcome)}];
  auto& h = latency_[std::string(action)];
  ++h.count;
  h.sum += latency_seconds;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (latency_seconds <= kBuckets[i]) ++h.counts[i];
  }
}

void Metrics::record_rate_limited(std::string_view limit) {
  std::lock_guard lock(mutex_);
  ++rate_limited_[std::string(limit)];
}

void Metrics::add_gauge(std::string name, std::string help, GaugeFn fn) {
  std::lock_guard lock(mutex_);
  gauges_[std::move(name)] = Gauge{std::move(help), std::move(fn)};
}

std::string Metrics::render() const {
  std::string out;
  auto counter = [&](std::string_view name, std::string_view help, std::string_view type, auto value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
  };
  counter("streamer_connections", "Open WebSocket connections.", "gauge", connections_open.load());
  counter("streamer_connections_total", "WebSocket connections accepted.", "counter", connections_total.load());
  counter("streamer_connections_rejected_total", "Connections refused (auth or rate).", "counter",
          connections_rejected.load());
  counter("streamer_messages_in_total", "Frames received from clients.", "counter", messages_in.load());
  counter("streamer_messages_out_total", "Frames sent to clients.", "counter", messages_out.load());
  counter("streamer_bytes_in_total", "Payload bytes received.", "counter", bytes_in.load());
  counter("streamer_bytes_out_total", "Payload bytes sent.", "counter", bytes_out.load());
  counter("streamer_progress_coalesced_total", "Progress messages replaced by a newer one before sending.",
          "counter", progress_coalesced.load());
  counter("streamer_slow_client_closes_total", "Connections closed with 1013 because results overflowed.",
          "counter", slow_client_closes.load());

  std::lock_guard lock(mutex_);
  out += "# HELP streamer_requests_total Requests by action and outcome.\n# TYPE streamer_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += fmt::format("streamer_requests_total{{action=\"{}\",outcome=\"{}\"}} {}\n", escape_label(key.first),
                       escape_label(key.second), n);
  }
  out += "# HELP streamer_request_duration_seconds Time to first answer, by action.\n"
         "# TYPE streamer_request_duration_seconds histogram\n";
  for (const auto& [action, h] : latency_) {
    auto a = escape_label(action);
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      out += fmt::format("streamer_request_duration_seconds_bucket{{action=\"{}\",le=\"{}\"}} {}\n", a, kBuckets[i],
                         h.counts[i]);
    }
    out += fmt::format("streamer_request_duration_seconds_bucket{{action=\"{}\",le=\"+Inf\"}} {}\n", a, h.count);
    out += fmt::format("streamer_request_duration_seconds_sum{{action=\"{}\"}} {}\n", a, h.sum);
    out += fmt::format("streamer_request_duration_seconds_count{{action=\"{}\"}} {}\n", a, h.count);
  }
  out += "# HELP streamer_rate_limited_total Rate-limit rejections by limit.\n# TYPE streamer_rate_limited_total counter\n";
  for (const auto& [limit, n] : rate_limited_) {
    out += fmt::format("streamer_rate_limited_total{{limit=\"{}\"}} {}\n", escape_label(limit), n);
  }
  for (const auto& [name, g] : gauges_) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, g.help, g.fn());
  }
  return out;
}

}  // namespace streamer
