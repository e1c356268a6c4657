#include "report/summary.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "build_info.h"

namespace loadpilot::report {

namespace {
std::string iso_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}
}  // namespace

Summary build_summary(const plan::Plan& plan, const metrics::Collector& collector, double planned_s,
                      double planned_iterations, double duration_s, bool interrupted) {
  Summary s;
  s.scenario = plan.name;
  s.file = plan.file;
  s.target = plan.target;
  s.mode = plan.profile.label();
  s.started_at = iso_now();
  s.interrupted = interrupted;
  s.duration_s = duration_s;
  s.planned_s = planned_s;
  s.target_rps = plan.profile.unlimited ? 0 : plan.profile.rps;
  s.planned_iterations = planned_iterations;
  const metrics::IntervalStats& c = collector.cumulative();
  // Rates are per second of the load profile (or of the time actually run
  // when interrupted), not including the final drain of in-flight requests.
  const double secs = std::max(1e-9, interrupted ? duration_s : std::min(duration_s, planned_s));
  metrics::Histogram service;
  for (std::size_t i = 0; i < c.tasks.size(); ++i) {
    const metrics::TaskStats& t = c.tasks[i];
    TaskSummary ts;
    ts.name = collector.task_names()[i];
    ts.weight = i < plan.tasks.size() ? plan.tasks[i].weight : 0;
    ts.requests = t.requests;
    ts.errors = t.errors;
    ts.iterations = t.iterations;
    ts.rps = t.requests / secs;
    ts.error_rate = metrics::percent(t.errors, t.requests);
    ts.latency = metrics::LatencySummary::of(t.latency);
    ts.iteration = metrics::LatencySummary::of(t.iteration);
    s.tasks.push_back(ts);
    s.requests += t.requests;
    s.errors += t.errors;
    s.iterations += t.iterations;
    for (std::size_t k = 0; k < metrics::kErrorKindCount; ++k)
      s.errors_by_kind[k] += t.errors_by_kind[k];
    service.merge(t.service);
  }
  s.started = c.iterations_started;
  s.dropped = c.dropped;
  s.late = c.late;
  s.actual_rps = s.requests / secs;
  s.iterations_rps = s.iterations / secs;
  s.error_rate = metrics::percent(s.errors, s.requests);
  s.latency = metrics::LatencySummary::of(collector.total_latency());
  s.service = metrics::LatencySummary::of(service);
  for (const auto& [key, entry] : c.messages.top(10)) {
    s.top_errors.push_back(
        {std::string(metrics::name(key.first)), key.second, entry.count, entry.first_seen_s});
  }
  metrics::RunTotals totals{s.latency.p50_ms, s.latency.p95_ms, s.latency.p99_ms, s.latency.max_ms,
                            s.error_rate};
  s.thresholds = metrics::evaluate_thresholds(plan.thresholds, totals);
  s.passed = metrics::all_passed(s.thresholds);
  return s;
}

nlohmann::json Summary::to_json() const {
  nlohmann::json kinds = nlohmann::json::object();
  for (std::size_t k = 0; k < metrics::kErrorKindCount; ++k)
    kinds[std::string(metrics::kErrorKindNames[k])] = errors_by_kind[k];
  nlohmann::json errs = nlohmann::json::array();
  for (const ErrorLine& e : top_errors)
    errs.push_back({{"kind", e.kind},
                    {"message", e.message},
                    {"count", e.count},
                    {"first_seen_s", e.first_seen_s}});
  nlohmann::json tasks_json = nlohmann::json::array();
  for (const TaskSummary& t : tasks)
    tasks_json.push_back({{"name", t.name},
                          {"weight", t.weight},
                          {"requests", t.requests},
                          {"errors", t.errors},
                          {"iterations", t.iterations},
                          {"rps", t.rps},
                          {"error_rate", t.error_rate},
                          {"latency", t.latency.to_json()},
                          {"iteration", t.iteration.to_json()}});
  nlohmann::json th = nlohmann::json::array();
  for (const metrics::ThresholdResult& r : thresholds)
    th.push_back({{"key", r.key}, {"limit", r.limit}, {"actual", r.actual}, {"passed", r.passed}});
  return {{"loadpilot_version", kVersion},
          {"scenario", scenario},
          {"file", file},
          {"target", target},
          {"mode", mode},
          {"started_at", started_at},
          {"interrupted", interrupted},
          {"signal", interrupt_signal},
          {"duration_s", duration_s},
          {"planned_duration_s", planned_s},
          {"rps", {{"target", target_rps}, {"actual", actual_rps}, {"iterations", iterations_rps}}},
          {"requests", requests},
          {"errors", errors},
          {"error_rate", error_rate},
          {"iterations",
           {{"planned", planned_iterations},
            {"started", started},
            {"finished", iterations},
            {"dropped", dropped},
            {"late", late}}},
          {"errors_by_kind", kinds},
          {"top_errors", errs},
          {"latency", latency.to_json()},
          {"service_time", service.to_json()},
          {"tasks", tasks_json},
          {"thresholds", th},
          {"passed", passed}};
}

namespace {
struct Style {
  bool color;
  std::string bold(const std::string& s) const { return color ? "\033[1m" + s + "\033[0m" : s; }
  std::string green(const std::string& s) const { return color ? "\033[32m" + s + "\033[0m" : s; }
  std::string red(const std::string& s) const { return color ? "\033[31m" + s + "\033[0m" : s; }
  std::string dim(const std::string& s) const { return color ? "\033[2m" + s + "\033[0m" : s; }
};
}  // namespace

void print_summary(std::FILE* out, const Summary& s, bool color) {
  const Style st{color};
  fmt::print(out, "\n{}\n",
             st.bold(fmt::format("LoadPilot summary — {}{}", s.scenario,
                                 s.interrupted ? " (interrupted)" : "")));
  fmt::print(out, "  target      {}\n", s.target);
  fmt::print(out, "  mode        {}   duration {:.1f}s of {:.1f}s planned\n", s.mode, s.duration_s,
             s.planned_s);
  fmt::print(out, "  requests    {}   errors {} ({:.2f}%)\n", s.requests, s.errors, s.error_rate);
  if (s.target_rps > 0) {
    // A ramp or step profile averages below its peak: compare with both.
    const double planned_avg = s.planned_s > 0 ? s.planned_iterations / s.planned_s : 0;
    fmt::print(out,
               "  rate        {:.1f} req/s achieved; target {:.1f} iterations/s average, {:.1f} "
               "peak\n",
               s.actual_rps, planned_avg, s.target_rps);
  } else {
    fmt::print(out, "  rate        {:.1f} req/s achieved (unlimited)\n", s.actual_rps);
  }
  if (s.iterations != s.requests)
    fmt::print(out, "  iterations  {} finished, {:.1f}/s\n", s.iterations, s.iterations_rps);
  fmt::print(out, "  arrivals    {} started of {:.0f} planned, {} late (>1 ms), {} dropped\n",
             s.started, s.planned_iterations, s.late, s.dropped);

  const auto& l = s.latency;
  fmt::print(out, "\n{}\n", st.bold("Latency (ms, from intended start)"));
  fmt::print(out,
             "  min {:.2f}  mean {:.2f}  p50 {:.2f}  p90 {:.2f}  p95 {:.2f}  p99 {:.2f}  "
             "p99.9 {:.2f}  max {:.2f}\n",
             l.min_ms, l.mean_ms, l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.max_ms);
  fmt::print(out, "  {}\n",
             st.dim(fmt::format("service time: p50 {:.2f}  p99 {:.2f}  max {:.2f}",
                                s.service.p50_ms, s.service.p99_ms, s.service.max_ms)));

  if (s.errors > 0) {
    fmt::print(out, "\n{}\n", st.bold("Errors"));
    std::string kinds;
    for (std::size_t k = 0; k < metrics::kErrorKindCount; ++k)
      if (s.errors_by_kind[k])
        kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", metrics::kErrorKindNames[k],
                             s.errors_by_kind[k]);
    fmt::print(out, "  by kind: {}\n", kinds);
    for (const ErrorLine& e : s.top_errors)
      fmt::print(out, "  {:>8}  {:<12} {}\n", e.count, e.kind, e.message);
  }

  fmt::print(out, "\n{}\n", st.bold("Tasks"));
  fmt::print(out, "  {:<24} {:>6} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9}\n", "task", "weight",
             "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms");
  for (const TaskSummary& t : s.tasks)
    fmt::print(out, "  {:<24} {:>6g} {:>10} {:>8} {:>9.1f} {:>9.2f} {:>9.2f} {:>9.2f}\n", t.name,
               t.weight, t.requests, t.errors, t.rps, t.latency.p50_ms, t.latency.p99_ms,
               t.latency.max_ms);

  if (!s.thresholds.empty()) {
    fmt::print(out, "\n{}\n", st.bold("Thresholds"));
    for (const metrics::ThresholdResult& r : s.thresholds) {
      const std::string mark = r.passed ? st.green("✓") : st.red("✗");
      const char* unit = r.key == "error_rate" ? "%" : " ms";
      fmt::print(out, "  {} {:<11} actual {:.2f}{} {} limit {:g}{}\n", mark, r.key, r.actual, unit,
                 r.passed ? "<=" : "> ", r.limit, unit);
    }
    fmt::print(out, "  {}\n",
               s.passed ? st.green("all thresholds passed") : st.red("threshold breached"));
  }
}

}  // namespace loadpilot::report
