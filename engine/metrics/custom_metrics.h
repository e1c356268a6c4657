#pragma once
// Custom metrics: values a scenario's own code adds through
// `loadpilot.metrics` (docs/scenarios.md#custom-metrics), kept beside the
// engine's per-task figures and merged exactly like them across workers,
// processes and agents.
//
// Four kinds, each merged without loss:
//  * trend   every value, in an HDR Histogram like latency. Values are
//            recorded in thousandths (kTrendScale), so a trend holds 0 to
//            kTrendMax (3,600,000) exactly to 0.001 below 4.096 and within
//            1/2048 of the value above (3 significant digits); larger
//            values are kept as kTrendMax and counted as clamped.
//  * counter the sum of the values (finite, >= 0) and how many were added;
//            sums of whole numbers are exact up to 2^53.
//  * rate    how many values were true (non-zero) of how many were added.
//  * gauge   the last value (by the time it was added, seconds since the
//            run's start), the smallest and the largest.
// NaN and infinities are refused, as are negative values except for a gauge.
//
// A CustomMetrics is a set of named metrics, each with a slot index that
// stays valid for the life of the set (fresh() keeps names and slots).
// Thread-safety: none; one owner at a time, as IntervalStats.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics/histogram.h"

namespace loadpilot::metrics {

enum class CustomKind : std::uint8_t { kTrend, kCounter, kRate, kGauge };
std::string_view name(CustomKind kind);
std::optional<CustomKind> custom_kind_from_name(std::string_view name);

inline constexpr double kTrendScale = 1000;
inline constexpr double kTrendMax = static_cast<double>(Histogram::kMaxValue) / kTrendScale;

struct CustomStat {
  CustomKind kind = CustomKind::kCounter;
  std::uint64_t count = 0;  // values added (every kind)
  Histogram trend;          // trend: the values, in thousandths
  double sum = 0;           // counter: their sum
  std::uint64_t trues = 0;  // rate: the values that were true
  // gauge: the last value and when it was added (seconds since the run's
  // start); the smallest and largest. Meaningful when count > 0.
  double last = 0, last_at_s = 0, min = 0, max = 0;

  void merge(const CustomStat& other);
};

class CustomMetrics {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  // The slot of NAME, added (empty, of KIND) when new. npos when NAME is
  // already there with another kind.
  std::size_t slot(std::string_view name, CustomKind kind);
  // Why VALUE cannot be added to a metric of KIND ("" when it can): the
  // message says what was given and what is accepted.
  static std::string refusal(CustomKind kind, double value);
  // Adds VALUE (refusal() must have said "") at AT_S to slot SLOT.
  void add(std::size_t slot, double value, double at_s);

  // Adds OTHER's values metric by metric, matched by name. A metric of
  // OTHER whose name is here with another kind is left out (one scenario
  // file declares each name once, so it does not happen between the
  // processes of one run).
  void merge(const CustomMetrics& other);
  // The same names and slots, with no values.
  CustomMetrics fresh() const;

  std::size_t size() const { return stats_.size(); }
  bool empty() const { return stats_.empty(); }
  const std::string& name_of(std::size_t slot) const { return names_[slot]; }
  const CustomStat& at(std::size_t slot) const { return stats_[slot]; }
  const CustomStat* find(std::string_view name) const;

  // Lossless, for agents reporting to their coordinator:
  // [{"name", "kind", "count", ...the kind's fields}]. from_json throws
  // std::invalid_argument naming the bad field; at most kMaxWireNames.
  static constexpr std::size_t kMaxWireNames = 1000;
  nlohmann::json to_json() const;
  static CustomMetrics from_json(const nlohmann::json& j);

 private:
  std::vector<std::string> names_;
  std::vector<CustomStat> stats_;
  std::unordered_map<std::string, std::size_t> index_;
};

// One metric's figures as the results file, the ndjson stream and the
// report show them (docs/output.md#custom-metrics): {"kind", "count", ...}.
nlohmann::json custom_stat_json(const CustomStat& s);
// {name: custom_stat_json(...)} for every metric of M.
nlohmann::json custom_metrics_json(const CustomMetrics& m);

}  // namespace loadpilot::metrics
