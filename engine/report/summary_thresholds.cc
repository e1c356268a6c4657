// The summary's thresholds: judged (report/summary.h judge_thresholds) and
// printed (print_thresholds), each named by its task and window.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "report/summary.h"
#include "report/text_fit.h"

namespace loadpilot::report {

void judge_thresholds(Summary& s, const plan::Plan& plan, const metrics::Collector& collector,
                      const metrics::ThresholdEvaluator* thresholds) {
  std::optional<metrics::ThresholdEvaluator> own;
  if (thresholds == nullptr) thresholds = &own.emplace(plan, collector.task_names());
  const metrics::ScopeNumbers run = metrics::ScopeNumbers::of(s.latency, s.error_rate, s.attempts);
  std::vector<metrics::ScopeNumbers> tasks;
  const metrics::IntervalStats& c = collector.cumulative();
  for (std::size_t i = 0; i < s.tasks.size() && i < c.tasks.size(); ++i)
    tasks.push_back(metrics::ScopeNumbers::of(s.tasks[i].latency, s.tasks[i].error_rate,
                                              c.tasks[i].attempts()));
  s.thresholds = thresholds->results(run, tasks);
  s.passed = metrics::all_passed(s.thresholds);
  if (const auto& abort = thresholds->abort()) {
    s.aborted = abort->describe();
    s.aborted_key = abort->key;
    s.add_problem(s.aborted);
  }
}

const char* threshold_unit(const metrics::ThresholdResult& r) {
  // Latency keys in ms, error rates in percent; a custom metric's key
  // (NAME.STAT) is in its values' own unit.
  const std::string metric = !r.metric.empty() ? r.metric : r.key.substr(r.key.rfind('.') + 1);
  return metric == "error_rate" ? "%" : metric.ends_with("_ms") ? " ms" : "";
}

void print_thresholds(std::FILE* out, int width,
                      const std::vector<metrics::ThresholdResult>& thresholds, bool color) {
  if (thresholds.empty()) return;
  const auto paint = [color](const char* code, const std::string& text) {
    return color ? fmt::format("\033[{}m{}\033[0m", code, text) : text;
  };
  fmt::print(out, "\n{}\n", paint("1", "Thresholds"));
  // The whole run's keys keep their column of 11; a task's or a window's
  // widens it to the longest label.
  int label_width = 11;
  for (const metrics::ThresholdResult& r : thresholds)
    label_width = std::max(label_width, display_width(printable(r.label())));
  label_width = std::min(label_width, std::max(11, width - 40));
  for (const metrics::ThresholdResult& r : thresholds) {
    const std::string mark = r.passed ? paint("32", "✓") : paint("31", "✗");
    const char* unit = threshold_unit(r);
    const std::string label = printable(r.label());
    std::string line = fmt::format("  {} ", mark);
    if (display_width(label) > label_width) {
      fmt::print(out, "{}{}\n", line, label);  // too long for the column: a line of its own
      line = std::string(4 + static_cast<std::size_t>(label_width), ' ');
    } else {
      line += pad(label, label_width);
    }
    const std::string actual =
        std::isnan(r.actual) ? std::string("no values") : fmt::format("{:.2f}{}", r.actual, unit);
    fmt::print(out, "{} actual {} {} limit {:g}{}\n", line, actual, r.passed ? "<=" : "> ", r.limit,
               unit);
    const std::string indent(4, ' ');
    if (r.over_s > 0 && (r.window_end_s > r.window_start_s))
      fmt::print(out, "{}{}\n", indent,
                 fmt::format("worst {:g} s window: {:.0f}–{:.0f} s of the run", r.over_s,
                             r.window_start_s, r.window_end_s));
    if (r.aborted)
      fmt::print(out, "{}{}\n", indent,
                 paint("31", fmt::format("broke at {:.1f} s; stopped the run at {:.1f} s",
                                         r.broken_at_s, r.aborted_at_s)));
  }
  fmt::print(out, "  {}\n",
             metrics::all_passed(thresholds) ? paint("32", "all thresholds passed")
                                             : paint("31", "threshold breached"));
}

}  // namespace loadpilot::report
