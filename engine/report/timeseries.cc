#include "report/timeseries.h"

#include <chrono>
#include <cmath>

#include "report/numbers.h"

namespace loadpilot::report {

namespace {
double ms(double x) { return round_to(x, 0.001); }
double rate(double x) { return round_to(x, 0.01); }
// Counters never go backwards; the guard only protects against a snapshot
// from a different run being fed in by mistake.
std::uint64_t delta(std::uint64_t now, std::uint64_t before) {
  return now >= before ? now - before : 0;
}
double interval_pct(std::uint64_t errors, std::uint64_t attempts) {
  return round_to(metrics::percent(errors, attempts), 0.001);
}
}  // namespace

TimeSeries::TimeSeries(std::vector<std::string> task_names, bool closed)
    : task_names_(std::move(task_names)),
      closed_(closed),
      last_attempts_(task_names_.size() + 1, 0),
      last_errors_(task_names_.size() + 1, 0),
      base_attempts_(task_names_.size() + 1, 0),
      base_errors_(task_names_.size() + 1, 0) {}

void TimeSeries::add(const metrics::Snapshot& s) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  add(s, std::chrono::duration<double>(now).count());
}

void TimeSeries::add(const metrics::Snapshot& s, const metrics::IntervalStats& round) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  add(s, round, std::chrono::duration<double>(now).count());
}

void TimeSeries::add(const metrics::Snapshot& s, const metrics::IntervalStats& round,
                     double unix_s) {
  // The same window as the latency percentiles (Collector::kWindowSeconds).
  metrics::Histogram service;
  for (const metrics::TaskStats& t : round.tasks) service.merge(t.service);
  service_window_.push_back(std::move(service));
  while (service_window_.size() > metrics::Collector::kWindowSeconds) service_window_.pop_front();
  metrics::Histogram window;
  for (const metrics::Histogram& h : service_window_) window.merge(h);
  add(s, unix_s);
  has_service_ = true;
  const metrics::LatencySummary summary = metrics::LatencySummary::of(window);
  points_.back().service_p50_ms = ms(summary.p50_ms);
  points_.back().service_p99_ms = ms(summary.p99_ms);
}

void TimeSeries::add(const metrics::Snapshot& s, double unix_s) {
  // The profile's end: the round taken there may last only milliseconds
  // (the run's last flush), and the curve is 0 once it has ended.
  const bool at_end = s.total_s > 0 && s.elapsed_s >= s.total_s - 1e-6 && !points_.empty();
  if (at_end && s.elapsed_s - points_.back().t < kShortRoundS) {
    fold_into_last(s);
    return;
  }
  Point p;
  p.t = round_to(s.elapsed_s, 0.001);
  p.unix_s = round_to(unix_s, 0.001);
  p.target_rps = rate(s.target_rps);
  p.current_rps = rate(s.current_rps);
  p.iterations_rps = rate(s.iterations_rps);
  p.active = s.active;
  p.active_users = s.active_users;
  p.target_users = s.target_users;
  if (at_end && s.closed && s.target_users == 0)
    p.target_users = points_.back().target_users;  // the users wanted in the last second
  take_window_and_totals(p, s);
  p.generator = s.generator;
  base_attempts_ = last_attempts_;
  base_errors_ = last_errors_;
  p.error_rate =
      interval_pct(delta(s.errors, last_errors_[0]), delta(s.attempts, last_attempts_[0]));
  last_attempts_[0] = s.attempts;
  last_errors_[0] = s.errors;
  p.tasks.resize(task_names_.size());
  for (std::size_t i = 0; i < task_names_.size() && i < s.tasks.size(); ++i) {
    const metrics::TaskSnapshot& t = s.tasks[i];
    TaskPoint& tp = p.tasks[i];
    tp.rps = rate(t.current_rps);
    tp.p50_ms = ms(t.window.p50_ms);
    tp.p99_ms = ms(t.window.p99_ms);
    tp.error_rate = interval_pct(delta(t.errors, last_errors_[i + 1]),
                                 delta(t.attempts, last_attempts_[i + 1]));
    last_attempts_[i + 1] = t.attempts;
    last_errors_[i + 1] = t.errors;
  }
  points_.push_back(std::move(p));
}

// What a point takes from the snapshot as it is, whether the point is new
// or a short last round folds into it: the window's latencies and the
// run's totals so far.
void TimeSeries::take_window_and_totals(Point& p, const metrics::Snapshot& s) {
  p.p50_ms = ms(s.window.p50_ms);
  p.p90_ms = ms(s.window.p90_ms);
  p.p95_ms = ms(s.window.p95_ms);
  p.p99_ms = ms(s.window.p99_ms);
  p.p999_ms = ms(s.window.p999_ms);
  p.max_ms = ms(s.window.max_ms);
  p.requests = s.requests;
  p.errors = s.errors;
  p.late = s.late;
  p.dropped = s.dropped;
  p.responses = s.responses;
  p.bytes_sent = s.bytes_sent;
  p.bytes_received = s.bytes_received;
}

void TimeSeries::fold_into_last(const metrics::Snapshot& s) {
  // The point keeps its time, its rates and its target; it takes the
  // totals (so the last cumulative values equal the run's), what is in
  // flight now, and an error rate over both rounds together.
  Point& p = points_.back();
  p.active = s.active;
  p.active_users = s.active_users;
  take_window_and_totals(p, s);
  p.error_rate =
      interval_pct(delta(s.errors, base_errors_[0]), delta(s.attempts, base_attempts_[0]));
  last_attempts_[0] = s.attempts;
  last_errors_[0] = s.errors;
  for (std::size_t i = 0; i < task_names_.size() && i < s.tasks.size(); ++i) {
    const metrics::TaskSnapshot& t = s.tasks[i];
    TaskPoint& tp = p.tasks[i];
    tp.p50_ms = ms(t.window.p50_ms);
    tp.p99_ms = ms(t.window.p99_ms);
    tp.error_rate = interval_pct(delta(t.errors, base_errors_[i + 1]),
                                 delta(t.attempts, base_attempts_[i + 1]));
    last_attempts_[i + 1] = t.attempts;
    last_errors_[i + 1] = t.errors;
  }
}

nlohmann::json TimeSeries::to_json() const {
  std::vector<const Point*> kept;
  const std::size_t n = points_.size();
  const std::size_t stride = n > kMaxPoints ? (n + kMaxPoints - 1) / kMaxPoints : 1;
  for (std::size_t i = 0; i < n; i += stride) kept.push_back(&points_[i]);
  if (n && kept.back() != &points_.back()) kept.push_back(&points_.back());

  const auto column = [&](auto field) {
    nlohmann::json a = nlohmann::json::array();
    for (const Point* p : kept) a.push_back(field(*p));
    return a;
  };
  nlohmann::json j = {
      {"interval_s", static_cast<double>(stride)},
      {"t", column([](const Point& p) { return p.t; })},
      {"target_rps", column([](const Point& p) { return p.target_rps; })},
      {"current_rps", column([](const Point& p) { return p.current_rps; })},
      {"iterations_rps", column([](const Point& p) { return p.iterations_rps; })},
      {"active", column([](const Point& p) { return p.active; })},
      {"p50_ms", column([](const Point& p) { return p.p50_ms; })},
      {"p95_ms", column([](const Point& p) { return p.p95_ms; })},
      {"p99_ms", column([](const Point& p) { return p.p99_ms; })},
      {"max_ms", column([](const Point& p) { return p.max_ms; })},
      {"requests", column([](const Point& p) { return p.requests; })},
      {"errors", column([](const Point& p) { return p.errors; })},
      {"error_rate", column([](const Point& p) { return p.error_rate; })},
      {"late", column([](const Point& p) { return p.late; })},
      {"dropped", column([](const Point& p) { return p.dropped; })},
      {"bytes_sent", column([](const Point& p) { return p.bytes_sent; })},
      {"bytes_received", column([](const Point& p) { return p.bytes_received; })},
  };
  for (std::size_t c = 0; c < metrics::kResponseClassCount; ++c) {
    j["responses_" + std::string(metrics::name(static_cast<metrics::ResponseClass>(c)))] =
        column([c](const Point& p) { return p.responses[c]; });
  }
  if (has_service_) {
    j["service_p50_ms"] = column([](const Point& p) { return p.service_p50_ms; });
    j["service_p99_ms"] = column([](const Point& p) { return p.service_p99_ms; });
  }
  if (closed_) {
    j["active_users"] = column([](const Point& p) { return p.active_users; });
    j["target_users"] = column([](const Point& p) { return p.target_users; });
  }
  nlohmann::json tasks = nlohmann::json::array();
  for (std::size_t i = 0; i < task_names_.size(); ++i) {
    tasks.push_back(
        {{"name", task_names_[i]},
         {"rps", column([i](const Point& p) { return p.tasks[i].rps; })},
         {"p50_ms", column([i](const Point& p) { return p.tasks[i].p50_ms; })},
         {"p99_ms", column([i](const Point& p) { return p.tasks[i].p99_ms; })},
         {"error_rate", column([i](const Point& p) { return p.tasks[i].error_rate; })}});
  }
  j["tasks"] = std::move(tasks);
  // The load generator's own side, each second (the report's "Load
  // generator" panel): shares 0..1, lag in ms, counts as they were.
  const auto share = [&](double metrics::GeneratorHealth::*f) {
    return column([f](const Point& p) { return round_to(p.generator.*f, 0.0001); });
  };
  const auto count = [&](std::uint64_t metrics::GeneratorHealth::*f) {
    return column([f](const Point& p) { return p.generator.*f; });
  };
  j["generator"] = {{"cores", points_.empty() ? 0u : points_.back().generator.cores},
                    {"lag_max_ms", column([](const Point& p) {
                       return round_to(p.generator.lag_max_ms, 0.001);
                     })},
                    {"cpu", share(&metrics::GeneratorHealth::cpu)},
                    {"steal", share(&metrics::GeneratorHealth::steal)},
                    {"busy", share(&metrics::GeneratorHealth::busy)},
                    {"python_cpu", share(&metrics::GeneratorHealth::python_cpu)},
                    {"python_held", share(&metrics::GeneratorHealth::python_held)},
                    {"cpu_wait", share(&metrics::GeneratorHealth::cpu_wait)},
                    {"connections_busy", count(&metrics::GeneratorHealth::connections_busy)},
                    {"connections_open", count(&metrics::GeneratorHealth::connections_open)},
                    {"send_queue", count(&metrics::GeneratorHealth::send_queue)}};
  return j;
}

}  // namespace loadpilot::report
