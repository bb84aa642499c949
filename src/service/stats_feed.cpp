#include "service/stats_feed.hpp"

#include <spdlog/spdlog.h>

#include <fmt/chrono.h>
#include <algorithm>

#include "core/json_text.hpp"
#include "core/log_event.hpp"

namespace streamer {
namespace json = boost::json;

namespace {

std::string iso_ms(SystemTime t) {
  const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(t);
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(ms);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(secs)),
                     static_cast<int>((ms - secs).count()));
}

json::value parsed(const std::string& text) {
  if (text.empty()) return nullptr;
  std::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value(nullptr) : v;
}

bool all_tenants(const JobScope& s) { return !s.tenant_id && !s.user_id; }

bool same_scope(const JobScope& a, const JobScope& b) {
  return a.tenant_id == b.tenant_id && a.user_id == b.user_id;
}

}  // namespace

StatsFeed::StatsFeed(JobStore& store, const Metrics& metrics, StatsFeedOptions options)
    : store_(store),
      metrics_(metrics),
      options_(options),
      counts_before_(metrics.request_counts()) {
  thread_ = std::thread([this] { run(); });
}

StatsFeed::~StatsFeed() { stop(); }

void StatsFeed::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool StatsFeed::watch(const std::shared_ptr<MessageSink>& conn, std::string request_id,
                      JobScope scope, const std::function<void()>& started) {
  std::lock_guard lock(mutex_);
  std::erase_if(watchers_,
                [&](const Watcher& w) { return w.key == conn.get() || w.conn.expired(); });
  if (watchers_.size() >= options_.max_watchers) return false;
  started();
  watchers_.push_back({conn, conn.get(), std::move(request_id), std::move(scope)});
  return true;
}

bool StatsFeed::unwatch(const MessageSink* conn, std::string_view request_id) {
  std::lock_guard lock(mutex_);
  return std::erase_if(watchers_, [&](const Watcher& w) {
           return w.key == conn && w.request_id == request_id;
         }) > 0;
}

std::size_t StatsFeed::watchers() const {
  std::lock_guard lock(mutex_);
  return watchers_.size();
}

void StatsFeed::count(const JobRecord& job, std::string_view outcome) {
  std::lock_guard lock(activity_mutex_);
  current_[{job.key.tenant_id, job.key.user_id, job.action, std::string(outcome)}]++;
}

void StatsFeed::job_submitted(const JobRecord& job) { count(job, "queued"); }

void StatsFeed::job_finished(const JobRecord& job, JobStatus status, std::string_view error_code,
                             double) {
  count(job, status == JobStatus::kSucceeded
                 ? std::string_view("success")
                 : (error_code.empty() ? "INTERNAL_ERROR" : error_code));
}

void StatsFeed::run() {
  std::unique_lock lock(stop_mutex_);
  while (!stop_cv_.wait_for(lock, options_.interval, [this] { return stopping_; })) {
    lock.unlock();
    try {
      tick();
    } catch (const std::exception& e) {
      log_event(spdlog::level::warn, "stats_feed_error", {{"error", e.what()}});
    }
    lock.lock();
  }
}

void StatsFeed::tick() {
  {
    // Close the interval: its activity becomes "the last interval".
    std::lock_guard lock(activity_mutex_);
    last_ = std::move(current_);
    current_.clear();
    auto now = metrics_.request_counts();
    counts_delta_.clear();
    for (const auto& [k, n] : now) {
      auto before = counts_before_.find(k);
      const auto d = n - (before == counts_before_.end() ? 0 : before->second);
      if (d > 0) counts_delta_[k] = d;
    }
    counts_before_ = std::move(now);
  }
  std::vector<Watcher> watchers;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(watchers_, [](const Watcher& w) { return w.conn.expired(); });
    watchers = watchers_;
  }
  // Each distinct scope is computed once per tick, however many watch it.
  std::vector<std::pair<JobScope, json::object>> computed;
  for (const auto& w : watchers) {
    auto conn = w.conn.lock();
    if (!conn) continue;
    auto it = std::find_if(computed.begin(), computed.end(),
                           [&](const auto& c) { return same_scope(c.first, w.scope); });
    if (it == computed.end()) {
      computed.emplace_back(w.scope, compute(w.scope));
      it = computed.end() - 1;
    }
    json::object body = it->second;
    body["request_id"] = w.request_id;
    json::object msg;
    msg["type"] = "stats";
    msg["stats"] = std::move(body);
    conn->deliver(w.request_id, MessageKind::kProgress, to_json_text(msg));
  }
}

json::array StatsFeed::requests_in(const JobScope& scope) const {
  std::map<std::pair<std::string, std::string>, std::uint64_t> rows;
  if (all_tenants(scope)) {
    for (const auto& [k, n] : counts_delta_) rows[k] += n;
  } else {
    for (const auto& [k, n] : last_) {
      const auto& [tenant, user, action, outcome] = k;
      if (scope.tenant_id && *scope.tenant_id != tenant) continue;
      if (scope.user_id && *scope.user_id != user) continue;
      rows[{action, outcome}] += n;
    }
  }
  json::array out;
  for (const auto& [k, n] : rows) {
    json::object row;
    row["action"] = k.first;
    row["outcome"] = k.second;
    row["count"] = n;
    out.push_back(std::move(row));
  }
  return out;
}

json::object StatsFeed::compute(const JobScope& scope) {
  const auto now = std::chrono::system_clock::now();
  json::object body;
  body["timestamp"] = iso_ms(now);
  body["interval"] = std::chrono::duration<double>(options_.interval).count();
  body["connections"] =
      all_tenants(scope) ? json::value(metrics_.connections_open.load()) : json::value(nullptr);
  {
    std::lock_guard lock(activity_mutex_);
    body["requests"] = requests_in(scope);
  }
  json::array queues;
  for (const auto& q : store_.queue_stats(scope)) {
    json::object row;
    row["action"] = q.action;
    row["queued"] = q.queued;
    row["oldest_age"] =
        std::max(0.0, std::chrono::duration<double>(now - q.oldest_created_at).count());
    queues.push_back(std::move(row));
  }
  body["queues"] = std::move(queues);
  JobQuery running_query;
  running_query.scope = scope;
  running_query.states = {JobStatus::kRunning};
  running_query.limit = options_.max_running;
  json::array running;
  for (const auto& job : store_.list_jobs(running_query).jobs) {
    json::object row;
    row["tenant_id"] = job.key.tenant_id;
    row["user_id"] = job.key.user_id;
    row["request_id"] = job.key.request_id;
    row["action"] = job.action;
    row["attempts"] = job.attempts;
    json::value p = parsed(job.progress_json);
    const auto* po = p.if_object();
    row["progress"] = po && po->contains("progress") && po->at("progress").is_number()
                          ? po->at("progress")
                          : json::value(nullptr);
    row["message"] = po && po->contains("message") && po->at("message").is_string()
                         ? po->at("message")
                         : json::value("");
    row["updated_at"] = iso_ms(job.updated_at);
    running.push_back(std::move(row));
  }
  body["running"] = std::move(running);
  json::array failures;
  for (const auto& job : store_.recent_failures(scope, options_.max_failures)) {
    json::object row;
    row["tenant_id"] = job.key.tenant_id;
    row["user_id"] = job.key.user_id;
    row["request_id"] = job.key.request_id;
    row["action"] = job.action;
    json::value outcome = parsed(job.outcome_json);
    const auto* err = outcome.is_object() ? outcome.get_object().if_contains("error") : nullptr;
    const auto* eo = err ? err->if_object() : nullptr;
    row["code"] =
        eo && eo->contains("code") && eo->at("code").is_string() ? eo->at("code") : json::value("");
    row["message"] = eo && eo->contains("message") && eo->at("message").is_string()
                         ? eo->at("message")
                         : json::value("");
    row["finished_at"] = iso_ms(job.finished_at.value_or(job.updated_at));
    failures.push_back(std::move(row));
  }
  body["recent_failures"] = std::move(failures);
  return body;
}

}  // namespace streamer
