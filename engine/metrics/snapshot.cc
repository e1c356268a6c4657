#include "metrics/snapshot.h"

#include <algorithm>

namespace loadpilot::metrics {

namespace {
double ms(std::uint64_t us) { return static_cast<double>(us) / 1000.0; }
nlohmann::json kinds_json(const std::array<std::uint64_t, kErrorKindCount>& kinds) {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t i = 0; i < kErrorKindCount; ++i)
    if (kinds[i]) j[std::string(kErrorKindNames[i])] = kinds[i];
  return j;
}
}  // namespace

LatencySummary LatencySummary::of(const Histogram& h) {
  LatencySummary s;
  s.count = h.count();
  if (!s.count) return s;
  s.min_ms = ms(h.min());
  s.mean_ms = h.mean() / 1000.0;
  s.p50_ms = ms(h.value_at_percentile(50));
  s.p90_ms = ms(h.value_at_percentile(90));
  s.p95_ms = ms(h.value_at_percentile(95));
  s.p99_ms = ms(h.value_at_percentile(99));
  s.p999_ms = ms(h.value_at_percentile(99.9));
  s.max_ms = ms(h.max());
  return s;
}

nlohmann::json LatencySummary::to_json() const {
  return {{"count", count},   {"min_ms", min_ms},   {"mean_ms", mean_ms},
          {"p50_ms", p50_ms}, {"p90_ms", p90_ms},   {"p95_ms", p95_ms},
          {"p99_ms", p99_ms}, {"p999_ms", p999_ms}, {"max_ms", max_ms}};
}

nlohmann::json GeneratorHealth::to_json() const {
  return {{"lag_max_ms", lag_max_ms},
          {"lag_at_s", lag_at_s},
          {"stall_ms", stall_ms},
          {"cpu", cpu},
          {"steal", steal},
          {"busy", busy},
          {"python_cpu", python_cpu},
          {"python_held", python_held},
          {"cpu_wait", cpu_wait},
          {"connections_busy", connections_busy},
          {"connections_open", connections_open},
          {"send_queue", send_queue},
          {"cores", cores}};
}

nlohmann::json Snapshot::to_json() const {
  nlohmann::json tasks_json = nlohmann::json::array();
  for (const TaskSnapshot& t : tasks) {
    nlohmann::json named_json = nlohmann::json::array();
    for (const NamedSnapshot& n : t.named)
      named_json.push_back({{"name", n.name},
                            {"requests", n.requests},
                            {"errors", n.errors},
                            {"current_rps", n.current_rps},
                            {"error_rate", n.error_rate},
                            {"latency_window", n.window.to_json()},
                            {"latency_total", n.total.to_json()}});
    tasks_json.push_back({{"name", t.name},
                          {"requests", t.requests},
                          {"errors", t.errors},
                          {"iterations", t.iterations},
                          {"current_rps", t.current_rps},
                          {"error_rate", t.error_rate},
                          {"errors_by_kind", kinds_json(t.errors_by_kind)},
                          {"latency_window", t.window.to_json()},
                          {"latency_total", t.total.to_json()},
                          {"named_requests", std::move(named_json)}});
  }
  nlohmann::json j = {{"type", "snapshot"},
                      {"elapsed_s", elapsed_s},
                      {"total_s", total_s},
                      {"phase", phase},
                      {"target_rps", target_rps},
                      {"current_rps", current_rps},
                      {"iterations_rps", iterations_rps},
                      {"requests", requests},
                      {"errors", errors},
                      {"error_rate", error_rate},
                      {"errors_by_kind", kinds_json(errors_by_kind)},
                      {"iterations", iterations},
                      {"started", started},
                      {"attempts", attempts},
                      {"dropped", dropped},
                      {"late", late},
                      {"cut_off", cut_off},
                      {"responses", responses_json(responses)},
                      {"bytes_sent", bytes_sent},
                      {"bytes_received", bytes_received},
                      {"active", active},
                      {"active_users", active_users},
                      {"connections", connections},
                      {"generator", generator.to_json()},
                      {"latency_window", window.to_json()},
                      {"latency_total", total.to_json()},
                      {"tasks", tasks_json}};
  if (closed) j["target_users"] = target_users;
  if (!custom.empty()) j["custom_metrics"] = custom_metrics_json(custom);
  if (!scenarios.empty()) {
    nlohmann::json parts = nlohmann::json::object();
    for (const Snapshot& part : scenarios) {
      nlohmann::json pj = part.to_json();
      // The run's line already says when and how the generator fared.
      for (const char* key : {"type", "ts", "generator"}) pj.erase(key);
      parts[part.scenario] = std::move(pj);
    }
    j["scenarios"] = std::move(parts);
  }
  return j;
}

Collector::Collector(std::vector<std::string> task_names)
    : task_names_(std::move(task_names)), cumulative_(task_names_.size()) {}

Snapshot Collector::add_round(std::vector<WorkerReport>& reports, double interval_s) {
  IntervalStats round(task_names_.size());
  Snapshot snap;
  for (WorkerReport& r : reports) {
    round.merge(r.stats);
    snap.active += r.in_flight;
    snap.active_users += r.active_users;
    snap.connections += r.connections;
    snap.generator.connections_busy += r.connections_busy;
    snap.generator.send_queue += r.send_queue;
  }
  cumulative_.merge(round);
  for (const TaskStats& t : round.tasks) total_latency_.merge(t.latency);
  window_.push_back(std::move(round));
  while (window_.size() > kWindowSeconds) window_.pop_front();
  const IntervalStats& last = window_.back();

  // Windowed per-task latency: merge the recent rounds.
  std::vector<Histogram> window_latency(task_names_.size());
  for (const IntervalStats& w : window_)
    for (std::size_t i = 0; i < w.tasks.size(); ++i) window_latency[i].merge(w.tasks[i].latency);

  Histogram all_window;
  // A short final round (the run ended mid-second) would inflate the rate;
  // rates then keep the last full round's values.
  const bool rate_round = interval_s >= 0.5 || last_rates_.empty();
  const double per_s = interval_s > 0 ? 1.0 / interval_s : 0;
  for (std::size_t i = 0; i < task_names_.size(); ++i) {
    const TaskStats& c = cumulative_.tasks[i];
    TaskSnapshot t;
    t.name = task_names_[i];
    t.requests = c.requests;
    t.errors = c.errors;
    t.attempts = c.attempts();
    t.iterations = c.iterations;
    t.errors_by_kind = c.errors_by_kind;
    t.current_rps =
        rate_round ? static_cast<double>(last.tasks[i].requests) * per_s : last_rates_[i + 2];
    t.error_rate = percent(c.errors, c.attempts());
    t.window = LatencySummary::of(window_latency[i]);
    t.total = LatencySummary::of(c.latency);
    all_window.merge(window_latency[i]);
    snap.requests += c.requests;
    snap.errors += c.errors;
    snap.attempts += c.attempts();
    snap.iterations += c.iterations;
    snap.interval_requests += last.tasks[i].requests;
    for (std::size_t k = 0; k < kErrorKindCount; ++k) snap.errors_by_kind[k] += c.errors_by_kind[k];
    snap.tasks.push_back(std::move(t));
  }
  // Sub-rows: under their task, never in the run's totals.
  std::vector<Histogram> named_window(cumulative_.named.size());
  for (const IntervalStats& w : window_) {
    for (const NamedStats& n : w.named) {
      for (std::size_t i = 0; i < cumulative_.named.size(); ++i) {
        const NamedStats& c = cumulative_.named[i];
        if (c.task == n.task && c.name == n.name) {
          named_window[i].merge(n.latency);
          break;
        }
      }
    }
  }
  std::vector<double> named_rates(cumulative_.named.size(), 0.0);
  for (std::size_t i = 0; i < cumulative_.named.size(); ++i) {
    const NamedStats& c = cumulative_.named[i];
    if (c.task >= snap.tasks.size()) continue;
    if (rate_round) {
      for (const NamedStats& n : last.named)
        if (n.task == c.task && n.name == c.name)
          named_rates[i] = static_cast<double>(n.requests) * per_s;
    } else if (i < last_named_rates_.size()) {
      named_rates[i] = last_named_rates_[i];
    }
    NamedSnapshot n;
    n.name = c.name;
    n.requests = c.requests;
    n.errors = c.errors;
    n.current_rps = named_rates[i];
    n.error_rate = percent(c.errors, c.requests);
    n.window = LatencySummary::of(named_window[i]);
    n.total = LatencySummary::of(c.latency);
    snap.tasks[c.task].named.push_back(std::move(n));
  }
  if (rate_round) last_named_rates_ = std::move(named_rates);
  if (rate_round) {
    snap.current_rps = static_cast<double>(snap.interval_requests) * per_s;
    snap.iterations_rps = static_cast<double>(last.iterations_started) * per_s;
    last_rates_ = {snap.current_rps, snap.iterations_rps};
    for (const TaskSnapshot& t : snap.tasks) last_rates_.push_back(t.current_rps);
  } else {
    snap.current_rps = last_rates_[0];
    snap.iterations_rps = last_rates_[1];
  }
  snap.custom = cumulative_.custom;
  snap.dropped = cumulative_.dropped;
  snap.late = cumulative_.late;
  snap.responses = cumulative_.responses;
  snap.bytes_sent = cumulative_.bytes_sent;
  snap.bytes_received = cumulative_.bytes_received;
  snap.cut_off = cumulative_.cut_off;
  // An iteration cut off at the end did not finish: one failed attempt of
  // the run (not of a task: a Python iteration's task is not known then).
  snap.errors += snap.cut_off;
  snap.attempts += snap.cut_off;
  snap.started = cumulative_.iterations_started;
  snap.busy = last.busy;
  snap.generator.lag_max_ms = last.lag_max_ms;
  snap.generator.lag_at_s = last.lag_at_s;
  snap.generator.stall_ms = last.stall_ms;
  snap.generator.cpu = last.cpu;
  snap.generator.steal = last.steal;
  snap.generator.busy = last.busy;
  snap.generator.python_cpu = last.python_cpu;
  snap.generator.python_held = last.python_held;
  snap.generator.cpu_wait = last.cpu_wait;
  snap.generator.connections_open = snap.connections;
  {
    Round r;
    rounds_end_s_ += interval_s;
    r.end_s = rounds_end_s_;
    r.interval_s = interval_s;
    r.started = last.iterations_started;
    r.late = last.late;
    r.pacing_late = last.pacing_late;
    r.dropped = last.dropped;
    r.dropped_no_vuser = last.dropped_no_vuser;
    Histogram service;
    for (const TaskStats& t : last.tasks) service.merge(t.service);
    r.requests = service.count();
    r.service_s = service.mean() * static_cast<double>(service.count()) / 1e6;
    r.service_p50_ms = ms(service.value_at_percentile(50));
    r.in_flight = snap.active;
    r.health = snap.generator;
    rounds_.push_back(r);
  }
  peak_active_users_ = std::max(peak_active_users_, snap.active_users);
  // An overloaded second: arrivals were dropped, or more than 1% of those
  // started began late. Its busiest thread tells whose fault it was. A
  // pacing slot missed because the user's previous iteration ran long is
  // the target's pace, not the generator falling behind.
  const std::uint64_t late = last.late - std::min(last.late, last.pacing_late);
  if (last.dropped > 0 || late * 100 > last.iterations_started) {
    ++overload_.seconds;
    overload_.busy_sum += last.busy;
    overload_.dropped_no_vuser += last.dropped_no_vuser;
    overload_.connections_max =
        std::max<std::uint64_t>(overload_.connections_max, snap.connections);
  }
  snap.error_rate = percent(snap.errors, snap.attempts);
  snap.window = LatencySummary::of(all_window);
  snap.total = LatencySummary::of(total_latency_);
  return snap;
}

}  // namespace loadpilot::metrics
