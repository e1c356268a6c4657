#include "metrics/threshold_evaluator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace loadpilot::metrics {

namespace {

std::optional<ThresholdMetric> metric_of(std::string_view name) {
  if (name == "p50_ms") return ThresholdMetric::kP50;
  if (name == "p95_ms") return ThresholdMetric::kP95;
  if (name == "p99_ms") return ThresholdMetric::kP99;
  if (name == "max_ms") return ThresholdMetric::kMax;
  if (name == "error_rate") return ThresholdMetric::kErrorRate;
  return std::nullopt;
}

// Written as !(a > l) would pass NaN; a NaN measurement must fail.
bool within(double actual, double limit) { return actual <= limit; }

const char* unit_of(ThresholdMetric m) { return m == ThresholdMetric::kErrorRate ? "%" : " ms"; }

// Key order for results: the run's metrics first, then each task's, each
// in kThresholdKeys order.
int metric_rank(ThresholdMetric m) { return static_cast<int>(m); }

}  // namespace

std::optional<double> ScopeNumbers::value(ThresholdMetric metric) const {
  switch (metric) {
    case ThresholdMetric::kP50:
      return latency_samples ? std::optional(p50_ms) : std::nullopt;
    case ThresholdMetric::kP95:
      return latency_samples ? std::optional(p95_ms) : std::nullopt;
    case ThresholdMetric::kP99:
      return latency_samples ? std::optional(p99_ms) : std::nullopt;
    case ThresholdMetric::kMax:
      return latency_samples ? std::optional(max_ms) : std::nullopt;
    case ThresholdMetric::kErrorRate:
      return attempts ? std::optional(error_rate) : std::nullopt;
  }
  return std::nullopt;
}

ScopeNumbers ScopeNumbers::of(const Histogram& latency, std::uint64_t errors,
                              std::uint64_t attempts) {
  return of(LatencySummary::of(latency), percent(errors, attempts), attempts);
}

ScopeNumbers ScopeNumbers::of(const LatencySummary& latency, double error_rate,
                              std::uint64_t attempts) {
  ScopeNumbers n;
  n.latency_samples = latency.count;
  n.p50_ms = latency.p50_ms;
  n.p95_ms = latency.p95_ms;
  n.p99_ms = latency.p99_ms;
  n.max_ms = latency.max_ms;
  n.attempts = attempts;
  n.error_rate = error_rate;
  return n;
}

std::vector<Gate> gates_of(const plan::Plan& plan, const std::vector<std::string>& rows) {
  std::vector<Gate> gates;
  for (const auto& [key, spec] : plan.thresholds) {
    if (!plan::threshold_problem(plan, key, spec).empty()) continue;
    const plan::ThresholdKey k = plan::split_threshold_key(key);
    std::string error, meant;
    const auto scope = plan::resolve_scope(plan, k.scope, &error, &meant);
    const auto metric = metric_of(k.metric);
    if (!scope || !metric) continue;
    Gate g{key, scope->task, Gate::kWholeRun, *metric, spec};
    if (scope->kind == plan::ThresholdScope::Kind::kTask) {
      const auto it = std::find(rows.begin(), rows.end(), scope->task);
      if (it == rows.end()) continue;
      g.row = static_cast<std::size_t>(it - rows.begin());
    }
    gates.push_back(std::move(g));
  }
  // The run's first, then tasks in row order; metrics in display order.
  std::stable_sort(gates.begin(), gates.end(), [](const Gate& a, const Gate& b) {
    const std::size_t ra = a.row == Gate::kWholeRun ? 0 : a.row + 1;
    const std::size_t rb = b.row == Gate::kWholeRun ? 0 : b.row + 1;
    if (ra != rb) return ra < rb;
    return metric_rank(a.metric) < metric_rank(b.metric);
  });
  return gates;
}

ThresholdEvaluator::ThresholdEvaluator(std::vector<Gate> gates)
    : gates_(std::move(gates)), states_(gates_.size()) {}

std::optional<double> ThresholdEvaluator::window_value(const Gate& g, const State& s,
                                                       double* start_s, double* end_s) const {
  if (s.rounds.empty()) return std::nullopt;
  Histogram latency;
  std::uint64_t errors = 0, attempts = 0;
  for (const Round& r : s.rounds) {
    if (g.metric == ThresholdMetric::kErrorRate) {
      errors += r.errors;
      attempts += r.attempts;
    } else {
      latency.merge(r.latency);
    }
  }
  *start_s = s.rounds.front().start_s;
  *end_s = s.rounds.back().end_s;
  return ScopeNumbers::of(latency, errors, attempts).value(g.metric);
}

void ThresholdEvaluator::add_round(const IntervalStats& round, const IntervalStats& cumulative,
                                   const Histogram& run_latency, double end_s) {
  const double start_s = last_end_s_;
  last_end_s_ = end_s;
  for (std::size_t i = 0; i < gates_.size(); ++i) {
    const Gate& g = gates_[i];
    State& s = states_[i];
    std::optional<double> now;  // the value judged live this round
    if (g.spec.over_s > 0) {
      Round r{start_s, end_s, {}, 0, 0};
      const auto add_task = [&](const TaskStats& t) {
        if (g.metric != ThresholdMetric::kErrorRate) r.latency.merge(t.latency);
        r.errors += t.errors;
        r.attempts += t.attempts();
      };
      if (g.row == Gate::kWholeRun) {
        for (const TaskStats& t : round.tasks) add_task(t);
      } else if (g.row < round.tasks.size()) {
        add_task(round.tasks[g.row]);
      }
      s.rounds.push_back(std::move(r));
      const auto rounds = static_cast<std::size_t>(g.spec.over_s);
      while (s.rounds.size() > rounds) s.rounds.pop_front();
      if (s.rounds.size() == rounds) {
        double ws = 0, we = 0;
        now = window_value(g, s, &ws, &we);
        s.judged_window = true;
        if (now && (!s.has_worst || !(*now <= s.worst))) {
          s.worst = *now;
          s.has_worst = true;
          s.worst_start_s = ws;
          s.worst_end_s = we;
        }
      }
    } else if (g.spec.abort_on_fail) {
      if (g.row == Gate::kWholeRun) {
        std::uint64_t errors = 0, attempts = 0;
        for (const TaskStats& t : cumulative.tasks) {
          errors += t.errors;
          attempts += t.attempts();
        }
        now = ScopeNumbers::of(run_latency, errors, attempts).value(g.metric);
      } else if (g.row < cumulative.tasks.size()) {
        const TaskStats& t = cumulative.tasks[g.row];
        now = ScopeNumbers::of(t.latency, t.errors, t.attempts()).value(g.metric);
      }
    }
    if (!g.spec.abort_on_fail || !now) continue;
    if (within(*now, g.spec.limit)) {
      s.broken_since.reset();
      continue;
    }
    if (!s.broken_since) s.broken_since = end_s;
    // A hair of slack: rounds come about a second apart, not exactly.
    if (!abort_ && end_s - *s.broken_since >= g.spec.abort_after_s - 0.05)
      abort_ = Abort{g.key,        *s.broken_since,      end_s,        *now,
                     g.spec.limit, g.spec.abort_after_s, g.spec.over_s};
  }
}

std::string ThresholdEvaluator::Abort::describe() const {
  const ThresholdMetric m =
      metric_of(plan::split_threshold_key(key).metric).value_or(ThresholdMetric::kP99);
  const std::string what = over_s > 0 ? fmt::format("{} over {:g}s", key, over_s) : key;
  const std::string grace =
      abort_after_s > 0 ? fmt::format(" and stayed broken past its {:g} s grace", abort_after_s)
                        : std::string();
  return fmt::format(
      "threshold {} broke at {:.1f} s (actual {:.2f}{} > limit {:g}{}){}: abort_on_fail stopped "
      "the run at {:.1f} s",
      what, broken_at_s, actual, unit_of(m), limit, unit_of(m), grace, decided_at_s);
}

std::vector<ThresholdResult> ThresholdEvaluator::results(
    const ScopeNumbers& run, const std::vector<ScopeNumbers>& tasks) const {
  std::vector<ThresholdResult> out;
  for (std::size_t i = 0; i < gates_.size(); ++i) {
    const Gate& g = gates_[i];
    const State& s = states_[i];
    ThresholdResult r;
    r.key = g.key;
    r.task = g.task;
    r.metric = plan::split_threshold_key(g.key).metric;
    r.limit = g.spec.limit;
    r.over_s = g.spec.over_s;
    r.abort_on_fail = g.spec.abort_on_fail;
    r.abort_after_s = g.spec.abort_after_s;
    std::optional<double> actual;
    if (g.spec.over_s > 0) {
      if (s.judged_window) {
        if (s.has_worst) {
          actual = s.worst;
          r.window_start_s = s.worst_start_s;
          r.window_end_s = s.worst_end_s;
        }
      } else {
        // Fewer rounds than the window: the run is its one window.
        actual = window_value(g, s, &r.window_start_s, &r.window_end_s);
      }
    } else if (g.row == Gate::kWholeRun) {
      actual = run.value(g.metric);
    } else if (g.row < tasks.size()) {
      actual = tasks[g.row].value(g.metric);
    }
    // Nothing measured in the scope: nothing broke it (as a whole-run
    // threshold of a run without requests has always read).
    r.actual = actual.value_or(0);
    r.passed = within(r.actual, r.limit);
    if (abort_ && abort_->key == g.key) {
      r.aborted = true;
      r.broken_at_s = abort_->broken_at_s;
      r.aborted_at_s = abort_->decided_at_s;
      // It broke for good when judged; the end's numbers (or another
      // window) may read otherwise, but the run was stopped on it.
      r.passed = false;
      if (!actual || within(r.actual, r.limit)) r.actual = abort_->actual;
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace loadpilot::metrics
