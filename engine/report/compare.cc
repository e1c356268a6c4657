#include "report/compare.h"

#include <fmt/format.h>

#include <algorithm>
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

namespace {

// The run-level metrics of one results object (a run's, or one scenario's
// in "scenarios"), each name after PREFIX.
void compare_figures(const nlohmann::json& base, const nlohmann::json& cur,
                     const std::string& prefix, double threshold_pct, double min_change_ms,
                     Comparison* c) {
  c->metrics.push_back(judge(prefix + "RPS actual", "req/s", false, at(base, "rps", "actual"),
                             at(cur, "rps", "actual"), threshold_pct, false));
  for (const char* p : {"p50", "p95", "p99", "max"}) {
    const std::string key = std::string(p) + "_ms";
    c->metrics.push_back(judge(prefix + p, "ms", true, at(base, "latency", key.c_str()),
                               at(cur, "latency", key.c_str()), threshold_pct, false,
                               min_change_ms));
  }
  c->metrics.push_back(judge(prefix + "error rate", "%", true, at(base, "error_rate"),
                             at(cur, "error_rate"), threshold_pct, true));
}

// A run of several scenarios: each scenario in both files compared as a
// run is, then each of its tasks in both by p99 and error rate; scenarios
// or tasks in one file only are named in the notes.
void compare_scenarios(const nlohmann::json& base, const nlohmann::json& cur, double threshold_pct,
                       double min_change_ms, Comparison* c) {
  const nlohmann::json none = nlohmann::json::object();
  const nlohmann::json& bs =
      base.contains("scenarios") && base["scenarios"].is_object() ? base["scenarios"] : none;
  const nlohmann::json& cs =
      cur.contains("scenarios") && cur["scenarios"].is_object() ? cur["scenarios"] : none;
  for (const auto& [name, b] : bs.items()) {
    if (!cs.contains(name)) {
      c->notes.push_back(fmt::format("scenario {} is in the baseline only", name));
      continue;
    }
    const nlohmann::json& k = cs.at(name);
    try {
      compare_figures(b, k, name + " ", threshold_pct, min_change_ms, c);
      for (const nlohmann::json& bt : b.at("tasks")) {
        const std::string task = bt.at("name").get<std::string>();
        const nlohmann::json* kt = nullptr;
        for (const nlohmann::json& t : k.at("tasks"))
          if (t.at("name") == task) kt = &t;
        if (kt == nullptr) {
          c->notes.push_back(fmt::format("task {}.{} is in the baseline only", name, task));
          continue;
        }
        const std::string row = name + "." + task + " ";
        c->metrics.push_back(judge(row + "p99", "ms", true, at(bt, "latency", "p99_ms"),
                                   at(*kt, "latency", "p99_ms"), threshold_pct, false,
                                   min_change_ms));
        c->metrics.push_back(judge(row + "error rate", "%", true, at(bt, "error_rate"),
                                   at(*kt, "error_rate"), threshold_pct, true));
      }
    } catch (const nlohmann::json::exception&) {
      c->notes.push_back(fmt::format("scenario {}: its figures could not be read", name));
    }
  }
  for (const auto& [name, k] : cs.items())
    if (!bs.contains(name))
      c->notes.push_back(fmt::format("scenario {} is in the current run only", name));
}

}  // namespace

Comparison compare_results(const nlohmann::json& base, const nlohmann::json& cur,
                           double threshold_pct, double min_change_ms) {
  Comparison c;
  compare_figures(base, cur, "", threshold_pct, min_change_ms, &c);
  for (const char* k : {"scenario", "target", "mode"})
    if (base.at(k) != cur.at(k))
      c.notes.push_back(fmt::format("{} differs: baseline {}, current {}", k, base.at(k).dump(),
                                    cur.at(k).dump()));
  compare_scenarios(base, cur, threshold_pct, min_change_ms, &c);
  return c;
}

void print_comparison(std::FILE* out, const Comparison& c, const std::string& baseline_path,
                      const std::string& current_path, double threshold_pct, bool color) {
  const auto paint = [color](const char* code, const std::string& s) {
    return color ? fmt::format("\033[{}m{}\033[0m", code, s) : s;
  };
  fmt::print(out, "baseline  {}\ncurrent   {}\n", baseline_path, current_path);
  for (const std::string& n : c.notes) fmt::print(out, "{}\n", paint("33", "note: " + n));
  // Wider when a run of several scenarios adds "SCENARIO.TASK p99" rows.
  std::size_t width = 20;
  for (const MetricComparison& m : c.metrics)
    width = std::max(width, m.name.size() + m.unit.size() + 3);
  fmt::print(out, "\n  {:<{}} {:>14} {:>14} {:>10}\n", "metric", width, "baseline", "current",
             "diff");
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
    fmt::print(out, "  {:<{}} {:>14} {:>14} {}{}\n", fmt::format("{} ({})", m.name, m.unit), width,
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
