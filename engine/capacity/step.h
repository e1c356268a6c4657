#pragma once
// Step: one rate of a capacity search, as run and as judged
// (docs/capacity.md#how-a-step-is-judged).
//
// A step runs the scenario at a constant arrival rate for a warm-up and
// then a hold. Only the hold is judged: the warm-up lets connections open,
// VUsers log in and a queue left by the previous step drain. The hold
// passes when every threshold holds over the hold's requests alone and no
// arrival was dropped in it. A hold that failed while the load generator
// or its machine held its seconds back — a second that fell behind, put
// down to "generator" or "machine" by the overload verdict
// (report/verdict.h) — did not measure the target: it is
// kGeneratorLimited, not kFail. A saturated generator, or one whose
// threads waited for a CPU (report::kCpuWaitShare), explains any
// failure; a stall of its machine only one it could have made alone (a
// latency threshold missed by no more than the stall lasted, or drops
// after a stall of a second or more): a busy machine's 100 ms stall does
// not excuse a p99 of seconds.
//
// judge_step() is a pure function of what the engine collected, so every
// rule is unit-tested with constructed rounds (engine/tests/capacity_step_test.cc).
// Thread-safety: none needed.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "capacity/search.h"
#include "metrics/snapshot.h"
#include "metrics/stats.h"
#include "metrics/thresholds.h"

namespace loadpilot::capacity {

// What the engine collected in a step's hold: its rounds' stats merged
// (the drain's included), and the rounds that had arrivals (the verdict's
// evidence).
struct HoldWindow {
  metrics::IntervalStats stats;
  std::vector<metrics::Round> rounds;
  double seconds = 0;  // the rounds' length together
  std::size_t max_connections = 0;
  std::size_t max_vusers = 0;  // 0: no Python VUsers
};

struct StepResult {
  int index = 0;  // 1-based, in the order run
  StepKind kind = StepKind::kBracket;
  double rps = 0;          // the asked arrival rate
  double start_s = 0;      // since the search started: the step's first arrival...
  double hold_s = 0;       // ...when its hold began...
  double end_s = 0;        // ...and when it ended (its drain included)
  double started_rps = 0;  // iterations started per second in the hold
  std::uint64_t requests = 0, errors = 0, attempts = 0, started = 0, dropped = 0, late = 0;
  double error_rate = 0;            // percent of attempts, hold only
  metrics::LatencySummary latency;  // hold only, from the intended start
  std::vector<metrics::ThresholdResult> thresholds;
  // "generator" or "machine" when such a second of the hold fell behind;
  // else "".
  std::string held_back_by;
  double lag_max_ms = 0, cpu_max = 0;  // the generator's health in the hold
  double cpu_wait_max = 0;             // ... and its threads' longest wait for a CPU
  StepOutcome outcome = StepOutcome::kFail;
  // Why it failed: "p99_ms 412 ms > 250 ms", "120 arrivals dropped",
  // "no request finished"; or why the generator could not deliver it.
  std::string reason;
  bool repeat = false;  // a repeat of a step the generator held back

  // The first threshold that failed, or null.
  const metrics::ThresholdResult* first_failed() const;
  nlohmann::json to_json() const;
};

// Judges a hold against `thresholds` (plan keys: p50_ms, ..., error_rate).
// Fills everything but index, kind, rps, the times and repeat.
StepResult judge_step(const HoldWindow& hold, const std::map<std::string, double>& thresholds);

// "p99 ≤ 250 ms", "errors ≤ 1%": a threshold as the capacity line says it.
std::string threshold_label(const std::string& key, double limit);
// "p99 412 ms", "errors 3.2%": an actual value.
std::string actual_label(const std::string& key, double actual);

}  // namespace loadpilot::capacity
