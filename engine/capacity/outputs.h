#pragma once
// SearchReport: a finished capacity search and everything `loadpilot find`
// writes about it (docs/capacity.md#reading-the-answer): the capacity line,
// the table of steps, the results JSON's `capacity` object, JUnit XML, the
// GitHub job summary and the HTML report (the search drawn: rate over time,
// pass or fail per step, the answer as a line; and a "Load generator" panel).
//
// Pure functions of the report (the HTML's only input besides the time it
// names), so tests can check each rendering. Thread-safety: none needed.
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "capacity/search.h"
#include "capacity/step.h"

namespace loadpilot::capacity {

struct SearchReport {
  std::string scenario, file, target, started_at;
  std::map<std::string, double> thresholds;
  SearchOptions options;
  double warmup_s = 0, hold_s = 0;
  std::size_t workers = 0, agents = 1, max_connections = 0;
  std::vector<StepResult> steps;
  Answer answer;
  bool interrupted = false;
  double duration_s = 0;
  // Problems beyond the search (a blocked VUser, an agent that failed).
  std::vector<std::string> problems;

  // "capacity 1,480 iterations/s (to within 3%) at p99 ≤ 250 ms, errors ≤
  // 1%; first failing threshold above it: p99 (412 ms at 1,560/s)", or what
  // was found instead.
  std::string capacity_line() const;
  // The step that failed at answer.failed_above (the lowest failing rate),
  // or null.
  const StepResult* first_failing() const;
  // 0: a capacity was found (exit 0); 1: not even rps_min held, or nothing
  // passed before the search stopped.
  int exit_code() const;
  // The results file: {"type": "capacity", scenario, target, thresholds,
  // capacity: {found, rps, precision, failed_above, confirmed, limit,
  // line, first_failing, search, steps: [...]}, generator: {...}}.
  nlohmann::json to_json() const;
};

// One step as the live output prints it when it ends.
std::string step_line(const StepResult& s);
// The table of every step and the capacity line.
void print_search(std::FILE* out, const SearchReport& r);
std::string junit_xml(const SearchReport& r, const std::string& hostname);
std::string step_summary_markdown(const SearchReport& r);
std::string html_report(const SearchReport& r, const std::string& generated_at);

// 1480 -> "1,480"; 1480.5 -> "1,480.5" (one decimal below 100 only).
std::string rate_text(double rps);

}  // namespace loadpilot::capacity
