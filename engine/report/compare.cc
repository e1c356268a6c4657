#include "report/compare.h"

#include <fmt/format.h>

#include <cmath>

namespace loadpilot::report {

bool Comparison::regressed() const {
  for (const MetricComparison& m : metrics)
    if (m.regressed) return true;
  return false;
}

namespace {

MetricComparison judge(std::string name, std::string unit, bool higher_is_worse, double baseline,
                       double current, double threshold_pct, bool is_error_rate, double floor = 0) {
  MetricComparison m;
  m.name = std::move(name);
  m.unit = std::move(unit);
  m.higher_is_worse = higher_is_worse;
  m.baseline = baseline;
  m.current = current;
  if (baseline != 0)
    m.diff_pct = (current - baseline) / std::abs(baseline) * 100.0;
  else if (current == 0)
    m.diff_pct = 0;  // 0 -> 0: unchanged
  // Positive "worse" means the metric moved the bad way.
  const double worse_pct = m.diff_pct ? (higher_is_worse ? *m.diff_pct : -*m.diff_pct) : 0;
  if (is_error_rate) {
    const double rise = current - baseline;  // percentage points
    if (baseline == 0) {
      m.regressed = rise > kErrorRateFloor;
    } else {
      m.regressed = worse_pct > threshold_pct && rise > kErrorRateFloor;
      m.improved = worse_pct < -threshold_pct && -rise > kErrorRateFloor;
    }
    return m;
  }
  if (!m.diff_pct) return m;
  const bool past = std::abs(worse_pct) > threshold_pct;
  const bool noise = std::abs(current - baseline) <= floor;
  m.within_noise = past && noise;
  m.regressed = worse_pct > threshold_pct && !noise;
  m.improved = worse_pct < -threshold_pct && !noise;
  return m;
}

double at(const nlohmann::json& j, const char* a, const char* b = nullptr) {
  const nlohmann::json& v = b ? j.at(a).at(b) : j.at(a);
  return v.get<double>();
}

}  // namespace

Comparison compare_results(const nlohmann::json& base, const nlohmann::json& cur,
                           double threshold_pct, double min_change_ms) {
  Comparison c;
  c.metrics.push_back(judge("RPS actual", "req/s", false, at(base, "rps", "actual"),
                            at(cur, "rps", "actual"), threshold_pct, false));
  for (const char* p : {"p50", "p95", "p99", "max"}) {
    const std::string key = std::string(p) + "_ms";
    c.metrics.push_back(judge(p, "ms", true, at(base, "latency", key.c_str()),
                              at(cur, "latency", key.c_str()), threshold_pct, false,
                              min_change_ms));
  }
  c.metrics.push_back(judge("error rate", "%", true, at(base, "error_rate"), at(cur, "error_rate"),
                            threshold_pct, true));
  for (const char* k : {"scenario", "target", "mode"})
    if (base.at(k) != cur.at(k))
      c.notes.push_back(fmt::format("{} differs: baseline {}, current {}", k, base.at(k).dump(),
                                    cur.at(k).dump()));
  return c;
}

void print_comparison(std::FILE* out, const Comparison& c, const std::string& baseline_path,
                      const std::string& current_path, double threshold_pct, bool color) {
  const auto paint = [color](const char* code, const std::string& s) {
    return color ? fmt::format("\033[{}m{}\033[0m", code, s) : s;
  };
  fmt::print(out, "baseline  {}\ncurrent   {}\n", baseline_path, current_path);
  for (const std::string& n : c.notes) fmt::print(out, "{}\n", paint("33", "note: " + n));
  fmt::print(out, "\n  {:<20} {:>14} {:>14} {:>10}\n", "metric", "baseline", "current", "diff");
  for (const MetricComparison& m : c.metrics) {
    const int digits = m.unit == "%" ? 3 : 2;
    std::string diff =
        m.diff_pct ? fmt::format("{:+.1f}%", *m.diff_pct) : (m.current != 0 ? "new" : "n/a");
    // Pad before colouring so escape codes do not upset the columns.
    diff = fmt::format("{:>10}", diff);
    std::string verdict;
    if (m.regressed) {
      diff = paint("31;1", diff);
      verdict = paint("31", "  regressed");
    } else if (m.improved) {
      diff = paint("32", diff);
      verdict = paint("32", "  improved");
    } else if (m.within_noise) {
      verdict = paint("2", "  within noise");
    }
    fmt::print(out, "  {:<20} {:>14} {:>14} {}{}\n", fmt::format("{} ({})", m.name, m.unit),
               fmt::format("{:.{}f}", m.baseline, digits),
               fmt::format("{:.{}f}", m.current, digits), diff, verdict);
  }
  fmt::print(out, "\n{}\n",
             c.regressed()
                 ? paint("31;1", fmt::format("regression: at least one metric is more than {:g}% "
                                             "worse than the baseline",
                                             threshold_pct))
                 : paint("32", fmt::format("no regression beyond {:g}%", threshold_pct)));
}

}  // namespace loadpilot::report
