#include "report/knee.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "report/numbers.h"

namespace loadpilot::report {

double percentile_between(const metrics::Histogram& earlier, const metrics::Histogram& later,
                          double percentile) {
  // Both bucket walks are in ascending order, so the difference is a
  // merge walk over them.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> before, diff;  // bucket value, count
  earlier.for_each_bucket([&](std::uint64_t v, std::uint64_t c) { before.emplace_back(v, c); });
  std::uint64_t total = 0;
  std::size_t i = 0;
  later.for_each_bucket([&](std::uint64_t v, std::uint64_t c) {
    while (i < before.size() && before[i].first < v) ++i;
    if (i < before.size() && before[i].first == v)
      c = c > before[i].second ? c - before[i].second : 0;
    if (c) {
      diff.emplace_back(v, c);
      total += c;
    }
  });
  if (total == 0) return 0;
  // Same rank rule as Histogram::value_at_percentile.
  const double p = std::clamp(percentile, 0.0, 100.0);
  const auto rank =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(p / 100.0 * total)));
  std::uint64_t seen = 0;
  for (const auto& [v, c] : diff) {
    seen += c;
    if (seen >= rank) {
      const std::uint64_t high =
          metrics::Histogram::highest_equivalent(metrics::Histogram::index_of(v));
      return static_cast<double>(std::min(high, later.max())) / 1000.0;
    }
  }
  return static_cast<double>(later.max()) / 1000.0;
}

Knee find_knee(std::vector<StepResult> steps, const std::map<std::string, double>& thresholds) {
  Knee k;
  std::erase_if(steps, [](const StepResult& s) { return s.requests == 0; });
  if (const auto it = thresholds.find("p99_ms"); it != thresholds.end()) {
    k.p99_limit_ms = it->second;
    k.p99_limit_source = "threshold";
  } else {
    const double base = steps.empty() ? 0 : steps.front().p99_ms;
    k.p99_limit_ms = std::max(kDerivedP99Factor * base, kDerivedP99FloorMs);
    k.p99_limit_source = "derived";
  }
  if (const auto it = thresholds.find("error_rate"); it != thresholds.end()) {
    k.error_rate_limit = it->second;
    k.error_rate_limit_source = "threshold";
  } else {
    k.error_rate_limit = kDefaultErrorRate;
    k.error_rate_limit_source = "default";
  }
  bool broken = false;
  for (StepResult& s : steps) {
    s.passed = s.p99_ms <= k.p99_limit_ms && s.error_rate <= k.error_rate_limit;
    if (!s.passed) broken = true;
    if (s.passed && !broken) {
      k.found = true;
      k.step = s.index;
      k.target_rps = s.target_rps;
      k.actual_rps = s.actual_rps;
      k.p99_ms = s.p99_ms;
      k.error_rate = s.error_rate;
    }
  }
  k.saturated = broken;
  k.steps = std::move(steps);
  return k;
}

nlohmann::json Knee::to_json() const {
  nlohmann::json steps_json = nlohmann::json::array();
  for (const StepResult& s : steps)
    steps_json.push_back({{"index", s.index},
                          {"label", s.label},
                          {"start_s", round_to(s.start_s, 0.001)},
                          {"end_s", round_to(s.end_s, 0.001)},
                          {"target_rps", round_to(s.target_rps, 0.01)},
                          {"actual_rps", round_to(s.actual_rps, 0.01)},
                          {"requests", s.requests},
                          {"errors", s.errors},
                          {"error_rate", round_to(s.error_rate, 0.001)},
                          {"p99_ms", round_to(s.p99_ms, 0.001)},
                          {"passed", s.passed}});
  nlohmann::json j = {{"found", found},
                      {"saturated", saturated},
                      {"p99_limit_ms", round_to(p99_limit_ms, 0.001)},
                      {"p99_limit_source", p99_limit_source},
                      {"error_rate_limit", error_rate_limit},
                      {"error_rate_limit_source", error_rate_limit_source},
                      {"steps", steps_json}};
  if (found) {
    j["step"] = step;
    j["target_rps"] = round_to(target_rps, 0.01);
    j["actual_rps"] = round_to(actual_rps, 0.01);
    j["p99_ms"] = round_to(p99_ms, 0.001);
    j["error_rate"] = round_to(error_rate, 0.001);
  }
  return j;
}

std::string describe_knee(const Knee& k) {
  const std::string limits =
      fmt::format("p99 <= {:g} ms ({}), errors <= {:g}% ({})", round_to(k.p99_limit_ms, 0.001),
                  k.p99_limit_source, k.error_rate_limit, k.error_rate_limit_source);
  if (k.steps.empty()) return "no step finished a request; no knee point";
  if (!k.found) return fmt::format("none: step 1 already broke the limits; {}", limits);
  const std::string head = fmt::format(
      "step {}/{} at {:g} req/s target ({:.1f} achieved, p99 {:.2f} ms, errors "
      "{:.2f}%)",
      k.step, k.steps.back().index, round_to(k.target_rps, 0.01), k.actual_rps, k.p99_ms,
      k.error_rate);
  return fmt::format("{}{}; {}", head,
                     k.saturated ? "" : " — every step passed, the limit is higher", limits);
}

StepTracker::StepTracker(const load::Profile& profile, bool step_mode) {
  if (!step_mode) return;
  double t = 0;
  int index = 1;
  for (const load::Segment& seg : profile.segments()) {
    StepResult b;
    b.index = index++;
    b.label = seg.phase;
    b.start_s = t;
    b.end_s = t + seg.duration_s;
    b.target_rps = seg.rate_start;
    bounds_.push_back(b);
    t = b.end_s;
  }
}

StepResult StepTracker::close_open() const {
  StepResult r = bounds_[open_.step];
  r.start_s = open_.start_s;
  r.end_s = last_t_;
  r.requests = last_requests_ - open_.requests_at_start;
  r.errors = last_errors_ - open_.errors_at_start;
  const double secs = r.end_s - r.start_s;
  r.actual_rps = secs > 0 ? static_cast<double>(r.requests) / secs : 0;
  r.error_rate = metrics::percent(r.errors, last_attempts_ - open_.attempts_at_start);
  r.p99_ms = percentile_between(open_.latency_at_start, last_latency_, 99);
  return r;
}

void StepTracker::add(const metrics::Snapshot& s, const metrics::Histogram& cumulative) {
  if (bounds_.empty()) return;
  const double mid = (last_t_ + s.elapsed_s) / 2;
  int step = static_cast<int>(bounds_.size()) - 1;
  for (std::size_t i = 0; i < bounds_.size(); ++i)
    if (mid < bounds_[i].end_s) {
      step = static_cast<int>(i);
      break;
    }
  if (step != open_.step) {
    if (open_.step >= 0) done_.push_back(close_open());
    open_.step = step;
    open_.start_s = last_t_;
    open_.requests_at_start = last_requests_;
    open_.errors_at_start = last_errors_;
    open_.attempts_at_start = last_attempts_;
    open_.latency_at_start = last_latency_;
  }
  last_t_ = s.elapsed_s;
  last_requests_ = s.requests;
  last_errors_ = s.errors;
  last_attempts_ = s.attempts;
  last_latency_ = cumulative;
}

std::vector<StepResult> StepTracker::results() const {
  std::vector<StepResult> out = done_;
  if (open_.step >= 0) out.push_back(close_open());
  return out;
}

}  // namespace loadpilot::report
