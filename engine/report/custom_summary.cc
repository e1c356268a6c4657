#include "report/custom_summary.h"

#include <fmt/format.h>

#include <algorithm>

namespace loadpilot::report {

metrics::CustomMetrics run_custom_metrics(const std::vector<plan::CustomMetricSpec>& declared,
                                          const metrics::CustomMetrics& cumulative) {
  metrics::CustomMetrics out;
  for (const plan::CustomMetricSpec& d : declared)
    if (const auto kind = metrics::custom_kind_from_name(d.kind)) out.slot(d.name, *kind);
  out.merge(cumulative);
  return out;
}

namespace {

std::string figure(double v) { return fmt::format("{:.6g}", v); }

std::vector<std::string> figures(const metrics::CustomStat& s) {
  const nlohmann::json j = metrics::custom_stat_json(s);
  if (s.count == 0 && s.kind != metrics::CustomKind::kCounter) return {"no values"};
  switch (s.kind) {
    case metrics::CustomKind::kTrend: {
      std::vector<std::string> out = {fmt::format("count {}", s.count)};
      for (const char* k : {"min", "mean", "p50", "p90", "p95", "p99", "max"})
        out.push_back(fmt::format("{} {}", k, figure(j[k])));
      if (s.trend.clamped_count())
        out.push_back(
            fmt::format("({} clamped to {})", s.trend.clamped_count(), figure(metrics::kTrendMax)));
      return out;
    }
    case metrics::CustomKind::kCounter:
      return {fmt::format("count {}", figure(s.sum)), fmt::format("({} adds)", s.count)};
    case metrics::CustomKind::kRate:
      return {fmt::format("rate {:.2f}%",
                          100.0 * static_cast<double>(s.trues) / static_cast<double>(s.count)),
              fmt::format("({} of {} true)", s.trues, s.count)};
    case metrics::CustomKind::kGauge:
      return {fmt::format("value {}", figure(s.last)), fmt::format("min {}", figure(s.min)),
              fmt::format("max {}", figure(s.max))};
  }
  return {};
}

}  // namespace

std::vector<std::string> custom_metric_lines(const metrics::CustomMetrics& m, int width) {
  std::size_t name_width = 0;
  for (std::size_t i = 0; i < m.size(); ++i) name_width = std::max(name_width, m.name_of(i).size());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < m.size(); ++i) {
    const std::string label =
        fmt::format("{:<{}}  {:<7}  ", m.name_of(i), name_width, metrics::name(m.at(i).kind));
    std::string line = label;
    bool first = true;
    for (const std::string& f : figures(m.at(i))) {
      // The summary indents by 2: a line may take WIDTH - 2 columns.
      if (!first && line.size() + 2 + f.size() + 2 > static_cast<std::size_t>(width)) {
        out.push_back(line);
        line = std::string(label.size(), ' ');
        first = true;
      }
      line += (first ? "" : "  ") + f;
      first = false;
    }
    out.push_back(line);
  }
  return out;
}

}  // namespace loadpilot::report
