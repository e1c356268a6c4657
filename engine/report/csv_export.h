#pragma once
// Locust-style CSV files (`loadpilot run --csv PREFIX`,
// docs/output.md#--csv-prefix), for tools and spreadsheets built around
// Locust's column names:
//  * PREFIX_stats.csv: one row per task (in the summary's order) and a last
//    "Aggregated" row for the whole run. Counts are the results file's
//    (tasks[i].requests/errors; the run's requests/errors, which include
//    iterations cut off at the end). Times are milliseconds with three
//    decimals, measured from the intended start like the summary's latency;
//    percentiles come from the whole-run histograms (exact to 1/2048).
//    There is no "Average Content Size": body sizes are not measured.
//  * PREFIX_stats_history.csv: one "Aggregated" row per collection round
//    (once a second), from report/timeseries.h: Unix time, iterations in
//    flight ("User Count"), the rates of that second, the latency
//    percentiles of the last 10 seconds (as the live views show them) and
//    the cumulative counts.
// Fields are quoted as RFC 4180 says when they hold a comma, quote or line
// break. Pure functions apart from write_csv; thread-safe.
#include <string>
#include <vector>

#include "metrics/histogram.h"
#include "metrics/stats.h"
#include "plan/plan.h"
#include "report/summary.h"
#include "report/timeseries.h"

namespace loadpilot::report {

struct CsvPaths {
  std::string stats, history;
};
CsvPaths csv_paths(const std::string& prefix);

// `cumulative` and `total_latency` are the collector's whole-run figures
// (metrics::Collector), tasks indexed like s.tasks.
std::string stats_csv(const Summary& s, const plan::Plan& plan,
                      const metrics::IntervalStats& cumulative,
                      const metrics::Histogram& total_latency);
std::string history_csv(const TimeSeries& series);

// Writes both files through write_file_atomically (report/output_file.h).
// False with *error set at the first that fails.
bool write_csv(const std::string& prefix, const Summary& s, const plan::Plan& plan,
               const metrics::IntervalStats& cumulative, const metrics::Histogram& total_latency,
               const TimeSeries& series, std::string* error);

}  // namespace loadpilot::report
