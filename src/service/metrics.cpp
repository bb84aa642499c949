#include "service/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace streamer {
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

void Metrics::record_request(std::string_view action, std::string_view outcome,
                             double latency_seconds) {
  auto& s = find_or_add_label(actions_mutex_, actions_, action);
  auto o = std::find(kOutcomes.begin(), kOutcomes.end() - 1, outcome) - kOutcomes.begin();
  s.outcomes[static_cast<std::size_t>(o)].fetch_add(1, std::memory_order_relaxed);
  auto b = std::lower_bound(kBuckets.begin(), kBuckets.end(), latency_seconds) - kBuckets.begin();
  s.buckets[static_cast<std::size_t>(b)].fetch_add(1, std::memory_order_relaxed);
  s.sum_ns.fetch_add(static_cast<std::uint64_t>(latency_seconds * 1e9), std::memory_order_relaxed);
}

void Metrics::record_rate_limited(std::string_view limit) {
  find_or_add_label(limits_mutex_, rate_limited_, limit).fetch_add(1, std::memory_order_relaxed);
}

void Metrics::add_gauge(std::string name, std::string help, GaugeFn fn) {
  std::lock_guard lock(gauges_mutex_);
  gauges_[std::move(name)] = Gauge{std::move(help), std::move(fn)};
}

std::string Metrics::render() const {
  std::string out;
  auto counter = [&](std::string_view name, std::string_view help, std::string_view type,
                     auto value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
  };
  out += fmt::format(
      "# HELP streamer_build_info The running binary's version.\n"
      "# TYPE streamer_build_info gauge\nstreamer_build_info{{version=\"{}\"}} 1\n",
      STREAMER_VERSION);
  counter("streamer_connections_open", "Open WebSocket connections.", "gauge",
          connections_open.load());
  counter("streamer_connections_total", "WebSocket connections accepted.", "counter",
          connections_total.load());
  counter("streamer_connections_rejected_total", "Connections refused (auth or rate).", "counter",
          connections_rejected.load());
  counter("streamer_messages_in_total", "Frames received from clients.", "counter",
          messages_in.load());
  counter("streamer_messages_out_total", "Frames sent to clients.", "counter", messages_out.load());
  counter("streamer_message_writes_total",
          "Socket writes that carried messages (a write gathers every message ready).", "counter",
          message_writes.load());
  counter("streamer_received_bytes_total", "Payload bytes received.", "counter", bytes_in.load());
  counter("streamer_sent_bytes_total", "Payload bytes sent.", "counter", bytes_out.load());
  counter("streamer_progress_coalesced_total",
          "Progress messages replaced by a newer one before sending.", "counter",
          progress_coalesced.load());
  counter("streamer_slow_client_closes_total",
          "Connections closed with 1013 because results overflowed.", "counter",
          slow_client_closes.load());
  counter("streamer_inline_overruns_total",
          "Inline (I/O-thread) handler runs longer than their 5 ms budget.", "counter",
          inline_overruns.load());
  {
    std::shared_lock lock(actions_mutex_);
    out +=
        "# HELP streamer_requests_total Requests by action and outcome.\n"
        "# TYPE streamer_requests_total counter\n";
    for (const auto& [action, s] : actions_) {
      for (std::size_t i = 0; i < kOutcomes.size(); ++i) {
        if (auto n = s->outcomes[i].load()) {
          out += fmt::format("streamer_requests_total{{action=\"{}\",outcome=\"{}\"}} {}\n",
                             escape_label(action), kOutcomes[i], n);
        }
      }
    }
    out +=
        "# HELP streamer_request_duration_seconds Time to first answer, by action.\n"
        "# TYPE streamer_request_duration_seconds histogram\n";
    for (const auto& [action, s] : actions_) {
      auto a = escape_label(action);
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += s->buckets[i].load();
        out +=
            fmt::format("streamer_request_duration_seconds_bucket{{action=\"{}\",le=\"{}\"}} {}\n",
                        a, kBuckets[i], cumulative);
      }
      cumulative += s->buckets[kBuckets.size()].load();
      out +=
          fmt::format("streamer_request_duration_seconds_bucket{{action=\"{}\",le=\"+Inf\"}} {}\n",
                      a, cumulative);
      out += fmt::format("streamer_request_duration_seconds_sum{{action=\"{}\"}} {}\n", a,
                         s->sum_ns.load() / 1e9);
      out += fmt::format("streamer_request_duration_seconds_count{{action=\"{}\"}} {}\n", a,
                         cumulative);
    }
  }
  {
    std::shared_lock lock(limits_mutex_);
    out +=
        "# HELP streamer_rate_limited_total Rate-limit rejections by limit.\n"
        "# TYPE streamer_rate_limited_total counter\n";
    for (const auto& [limit, n] : rate_limited_) {
      out += fmt::format("streamer_rate_limited_total{{limit=\"{}\"}} {}\n", escape_label(limit),
                         n->load());
    }
  }
  std::lock_guard lock(gauges_mutex_);
  for (const auto& [name, g] : gauges_) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, g.help, g.fn());
  }
  for (const auto& render_more : renderers_) render_more(out);
  return out;
}

void Metrics::add_renderer(RenderFn fn) {
  std::lock_guard lock(gauges_mutex_);
  renderers_.push_back(std::move(fn));
}

Metrics::RequestCounts Metrics::request_counts() const {
  RequestCounts out;
  std::shared_lock lock(actions_mutex_);
  for (const auto& [action, s] : actions_) {
    for (std::size_t i = 0; i < kOutcomes.size(); ++i) {
      if (auto n = s->outcomes[i].load(std::memory_order_relaxed))
        out[{action, std::string(kOutcomes[i])}] = n;
    }
  }
  return out;
}

}  // namespace streamer
