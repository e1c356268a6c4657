#pragma once
// Thresholds as the plan carries them (docs/scenarios.md#thresholds).
//
// A key is `[SCOPE.]METRIC`. METRIC is one of kThresholdKeys (p50_ms,
// p95_ms, p99_ms, max_ms: latency in ms; error_rate: percent). SCOPE is
// what comes before the key's last dot: empty for the whole run, or the
// name of one of the plan's tasks ("checkout.p99_ms"). resolve_scope() is
// the one place that gives a scope its meaning, so that another kind of
// scope (a scenario's name, or "scenario.task") is added there without
// changing the keys' syntax, the evaluator (metrics/threshold_evaluator.h)
// or the outputs.
//
// A threshold is a limit, optionally judged over windows ("over") rather
// than the whole run, and optionally ending the run once it breaks for good
// (abort_on_fail, after abort_after of grace).
//
// JSON (inside the plan's "thresholds" object): a plain number for a limit
// alone, as before; otherwise {"limit": 300, "over_s": 60,
// "abort_on_fail": true, "abort_after_s": 30} (absent fields: 0 / false).
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadpilot::plan {

struct Plan;

// Known threshold metrics, in display order.
inline constexpr const char* kThresholdKeys[] = {"p50_ms", "p95_ms", "p99_ms", "max_ms",
                                                 "error_rate"};

// The longest window a threshold may be judged over: each window keeps one
// histogram per second of it.
inline constexpr double kMaxThresholdWindowS = 3600;

struct Threshold {
  double limit = 0;
  // 0: judged on the whole run. Else a whole number of seconds: the
  // threshold fails when any window of that many consecutive one-second
  // collection rounds breaks it (metrics/threshold_evaluator.h).
  double over_s = 0;
  // Ends the run once the threshold has stayed broken for abort_after_s
  // (judged live, once a second, by the process that sees the whole run).
  bool abort_on_fail = false;
  double abort_after_s = 0;
  // Where it was written, for messages: "FILE:LINE" of the decorator, or
  // "--threshold TEXT" for the command line; empty for a plan read from
  // JSON. Not part of the plan's JSON, nor of equality.
  std::string origin;

  Threshold() = default;
  // A plain limit, as the plan's thresholds were before windows.
  Threshold(double l) : limit(l) {}  // NOLINT(google-explicit-constructor)

  bool plain() const { return over_s == 0 && !abort_on_fail && abort_after_s == 0; }
  bool operator==(const Threshold& o) const {
    return limit == o.limit && over_s == o.over_s && abort_on_fail == o.abort_on_fail &&
           abort_after_s == o.abort_after_s;
  }
};

using Thresholds = std::map<std::string, Threshold>;

// KEY split at its last dot: scope "" and metric KEY when it has none.
struct ThresholdKey {
  std::string scope;
  std::string metric;
};
ThresholdKey split_threshold_key(std::string_view key);
bool known_threshold_metric(std::string_view metric);

// What a scope names. Today: the whole run or one task.
struct ThresholdScope {
  enum class Kind { kRun, kTask };
  Kind kind = Kind::kRun;
  std::string task;  // kTask: the task's name
};

// SCOPE of a key resolved against PLAN: "" is the whole run, a task's name
// that task. Otherwise nullopt, with *error the reason ("no task chekout")
// and *meant the scope most likely meant ("checkout"), or "".
std::optional<ThresholdScope> resolve_scope(const Plan& plan, std::string_view scope,
                                            std::string* error, std::string* meant);

// Why threshold KEY = T cannot be used in PLAN, or "" when it can. Unknown
// keys get the key most likely meant ("did you mean checkout.p99_ms?").
// The message names neither the field nor the origin: validate() adds them.
std::string threshold_problem(const Plan& plan, const std::string& key, const Threshold& t);

// The whole run's plain limits (no scope, no window, no abort): what the
// capacity search and the knee point judge.
std::map<std::string, double> whole_run_limits(const Thresholds& thresholds);

nlohmann::json threshold_to_json(const Threshold& t);
// Throws PlanError naming FIELD on a wrong type.
Threshold threshold_from_json(const nlohmann::json& j, const std::string& field);

}  // namespace loadpilot::plan
