#include "capacity/step.h"

#include <fmt/format.h>

#include <algorithm>

#include "report/verdict.h"

namespace loadpilot::capacity {

namespace {

bool is_latency(const std::string& key) { return key != "error_rate"; }

// "p99_ms" -> "p99".
std::string short_key(const std::string& key) {
  if (key == "error_rate") return "errors";
  const auto at = key.find("_ms");
  return at == std::string::npos ? key : key.substr(0, at);
}

// What the generator's side did in a hold's seconds that fell behind: a
// saturated generator, or one starved of CPU by other processes (its own
// wait sits inside every latency it measured), explains any failure; its
// machine's stalls only as much latency as they lasted. Fills R's health
// figures, held_back_by and, for the first such second, reason.
struct HeldBack {
  bool saturated = false;
  double stall_ms = 0;
};

HeldBack held_back(const HoldWindow& hold, StepResult& r) {
  HeldBack h;
  report::Evidence e;
  e.max_connections = hold.max_connections;
  e.max_vusers = hold.max_vusers;
  for (const metrics::Round& round : hold.rounds) {
    r.lag_max_ms = std::max(r.lag_max_ms, round.health.lag_max_ms);
    r.cpu_max = std::max(r.cpu_max, round.health.cpu);
    r.cpu_wait_max = std::max(r.cpu_wait_max, round.health.cpu_wait);
    if (!round.behind()) continue;
    const std::string cause = report::judge_round(round, e);
    const bool starved = cause == "machine" && round.health.cpu_wait >= report::kCpuWaitShare;
    if (cause == "generator" || starved) h.saturated = true;
    if (cause == "machine") h.stall_ms = std::max(h.stall_ms, round.health.lag_max_ms);
    if (!r.held_back_by.empty()) continue;
    // Only the generator's own side: the verdict's "scenario" (VUsers busy
    // while few requests finished) is also what a target that queues its
    // requests for seconds looks like to Python VUsers.
    if (cause == "generator" || cause == "machine") {
      r.held_back_by = cause;
      r.reason = fmt::format(
          "the {} held the load back at {:.1f} s (loop lag {:.0f} ms, CPU {:.0f}%{})",
          cause == "machine" ? "generator's machine" : "load generator", round.end_s,
          round.health.lag_max_ms, round.health.cpu * 100,
          starved ? fmt::format(", waited for CPU {:.0f}%: other processes share its cores",
                                round.health.cpu_wait * 100)
                  : "");
    }
  }
  return h;
}

}  // namespace

std::string threshold_label(const std::string& key, double limit) {
  return is_latency(key) ? fmt::format("{} ≤ {:g} ms", short_key(key), limit)
                         : fmt::format("errors ≤ {:g}%", limit);
}

std::string actual_label(const std::string& key, double actual) {
  return is_latency(key) ? fmt::format("{} {:.0f} ms", short_key(key), actual)
                         : fmt::format("errors {:.2f}%", actual);
}

const metrics::ThresholdResult* StepResult::first_failed() const {
  for (const auto& t : thresholds)
    if (!t.passed) return &t;
  return nullptr;
}

StepResult judge_step(const HoldWindow& hold, const std::map<std::string, double>& thresholds) {
  StepResult r;
  const metrics::IntervalStats& s = hold.stats;
  metrics::Histogram latency;
  for (const metrics::TaskStats& t : s.tasks) {
    r.requests += t.requests;
    r.errors += t.errors;
    r.attempts += t.attempts();
    latency.merge(t.latency);
  }
  r.started = s.iterations_started;
  r.dropped = s.dropped;
  r.late = s.late;
  r.started_rps = hold.seconds > 0 ? static_cast<double>(r.started) / hold.seconds : 0;
  r.error_rate = metrics::percent(r.errors, r.attempts);
  r.latency = metrics::LatencySummary::of(latency);
  metrics::RunTotals totals;
  totals.p50_ms = r.latency.p50_ms;
  totals.p95_ms = r.latency.p95_ms;
  totals.p99_ms = r.latency.p99_ms;
  totals.max_ms = r.latency.max_ms;
  totals.error_rate = r.error_rate;
  r.thresholds = metrics::evaluate_thresholds(thresholds, totals);

  // Who held the hold's seconds back, where one did.
  const HeldBack held = held_back(hold, r);
  const bool saturated = held.saturated;
  const double stall_ms = held.stall_ms;

  std::string failure;
  // Whether the machine's stalls alone could have made the failure.
  bool stall_explains = false;
  if (r.attempts == 0) {
    failure = "no request finished in the hold";
  } else if (r.dropped > 0) {
    failure = fmt::format("{} arrivals dropped", r.dropped);
    // The wait queue holds a second of arrivals: only a longer stall drops.
    stall_explains = stall_ms >= 1000;
  } else if (const metrics::ThresholdResult* t = r.first_failed()) {
    failure = fmt::format(
        "{} > {}", actual_label(t->key, t->actual),
        is_latency(t->key) ? fmt::format("{:g} ms", t->limit) : fmt::format("{:g}%", t->limit));
    stall_explains = is_latency(t->key) && t->actual - stall_ms <= t->limit;
  }
  if (failure.empty()) {
    r.outcome = StepOutcome::kPass;
    r.reason.clear();
  } else if (saturated || stall_explains) {
    // It failed, but the target was not what was measured.
    r.outcome = StepOutcome::kGeneratorLimited;
    r.reason = failure + "; " + r.reason;
  } else {
    r.outcome = StepOutcome::kFail;
    r.reason = failure;
  }
  return r;
}

nlohmann::json StepResult::to_json() const {
  nlohmann::json th = nlohmann::json::array();
  for (const auto& t : thresholds)
    th.push_back({{"key", t.key}, {"limit", t.limit}, {"actual", t.actual}, {"passed", t.passed}});
  return {{"index", index},
          {"kind", std::string(kind_name(kind))},
          {"rps", rps},
          {"start_s", start_s},
          {"hold_s", hold_s},
          {"end_s", end_s},
          {"started_rps", started_rps},
          {"requests", requests},
          {"errors", errors},
          {"attempts", attempts},
          {"started", started},
          {"dropped", dropped},
          {"late", late},
          {"error_rate", error_rate},
          {"latency", latency.to_json()},
          {"thresholds", th},
          {"held_back_by", held_back_by.empty() ? nlohmann::json() : nlohmann::json(held_back_by)},
          {"lag_max_ms", lag_max_ms},
          {"cpu_max", cpu_max},
          {"cpu_wait_max", cpu_wait_max},
          {"outcome", std::string(outcome_name(outcome))},
          {"reason", reason},
          {"repeat", repeat}};
}

}  // namespace loadpilot::capacity
