#include "metrics/custom_thresholds.h"

#include <limits>

namespace loadpilot::metrics {

namespace {

constexpr double kNoValues = std::numeric_limits<double>::quiet_NaN();

}  // namespace

std::optional<double> custom_metric_value(std::string_view key,
                                          const std::vector<plan::CustomMetricSpec>& declared,
                                          const CustomMetrics& m) {
  const auto k = plan::split_custom_key(key);
  if (!k) return std::nullopt;
  const plan::CustomMetricSpec* spec = nullptr;
  for (const plan::CustomMetricSpec& d : declared)
    if (d.name == k->name) spec = &d;
  if (spec == nullptr) return std::nullopt;
  bool known = false;
  for (const std::string& s : plan::custom_stats(spec->kind)) known = known || s == k->stat;
  if (!known) return std::nullopt;
  CustomStat empty;
  empty.kind = custom_kind_from_name(spec->kind).value_or(CustomKind::kCounter);
  const CustomStat* found = m.find(k->name);
  const CustomStat& s = found != nullptr && found->kind == empty.kind ? *found : empty;
  switch (s.kind) {
    case CustomKind::kTrend:
      // As the results file shows them (custom_stat_json).
      if (s.count == 0 && k->stat != "count") return kNoValues;
      return custom_stat_json(s)[k->stat].get<double>();
    case CustomKind::kCounter:
      return s.sum;
    case CustomKind::kRate:
      return s.count ? static_cast<double>(s.trues) / static_cast<double>(s.count) : kNoValues;
    case CustomKind::kGauge:
      if (s.count == 0) return kNoValues;
      return k->stat == "min" ? s.min : k->stat == "max" ? s.max : s.last;
  }
  return std::nullopt;
}

std::vector<ThresholdResult> evaluate_custom_thresholds(
    const std::map<std::string, double>& limits,
    const std::vector<plan::CustomMetricSpec>& declared, const CustomMetrics& m) {
  std::vector<ThresholdResult> out;
  for (const auto& [key, limit] : limits) {
    const std::optional<double> actual = custom_metric_value(key, declared, m);
    // NaN (no values) fails: it is not <= anything.
    if (actual) out.push_back({key, limit, *actual, *actual <= limit});
  }
  return out;
}

}  // namespace loadpilot::metrics
