#pragma once
// The report side of the command line:
//  * RunOutputs: what `loadpilot run` records for the report while it runs
//    (time series, step results) and writes afterwards (results JSON, HTML
//    report, baseline, knee line in the summary, JUnit XML, CSV files, the
//    CI job summary).
//  * `loadpilot report RESULTS.json -o report.html`
//  * `loadpilot compare CURRENT [BASELINE] [--threshold PCT]`
// Exit codes as in cli/commands.h: compare exits 1 on a regression; bad or
// missing files exit 2 with a message naming the file and the problem.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/run_command.h"
#include "load/engine.h"
#include "metrics/snapshot.h"
#include "plan/plan.h"
#include "report/knee.h"
#include "report/summary.h"
#include "report/timeseries.h"

namespace loadpilot::cli {

inline constexpr const char* kBaselinePath = ".loadpilot/baseline.json";

// Colours on stdout: a terminal, no --no-color, no NO_COLOR.
bool color_on(bool no_color);

// Lives for one `run`. on_snapshot() is called on the engine's collector
// thread during the run; everything else on the main thread after it.
class RunOutputs {
 public:
  RunOutputs(const RunArgs& args, const plan::Plan& plan, const load::Engine& engine);

  void on_snapshot(const metrics::Snapshot& s);

  // The results object (--results-json, report, baseline) for `summary`;
  // also computes the knee for step runs.
  nlohmann::json results(const report::Summary& summary);
  // The knee point of a step run as one sentence for the terminal summary
  // (Summary::knee), computed here once; empty for other runs.
  std::string knee_line();
  // Writes the HTML report (unless --no-report) and the baseline (with
  // --save-baseline) and adds "... written to PATH" lines to `written` for
  // the terminal, which comes after the files (docs/output.md#output-files).
  // Returns kExitOk, or kExitInvalid when a file could not be written (the
  // message is printed on stderr).
  int write_files(const nlohmann::json& results, std::vector<std::string>* written) const;
  // Writes --junit and --csv, and appends the Markdown summary to
  // $GITHUB_STEP_SUMMARY when set (a failure there only warns). Returns
  // kExitOk, or kExitInvalid when a requested file could not be written.
  int write_ci_files(const report::Summary& summary, std::vector<std::string>* written) const;

 private:
  const RunArgs& args_;
  const plan::Plan& plan_;
  const load::Engine& engine_;
  report::TimeSeries series_;
  report::StepTracker steps_;
  std::unique_ptr<report::Knee> knee_;
};

struct ReportArgs {
  std::string results;
  std::string output;  // default: RESULTS with .html
};
struct CompareArgs {
  std::string current;
  std::string baseline = kBaselinePath;
  double threshold = 10;
  double min_change_ms = 1.0;  // latency changes below this never count
  bool no_color = false;
};

// Registers the `report` and `compare` subcommands and the run options
// --report, --no-report, --save-baseline, --junit and --csv.
void add_report_options(CLI::App& run, RunArgs& a);
CLI::App* add_report_command(CLI::App& app, ReportArgs& a);
CLI::App* add_compare_command(CLI::App& app, CompareArgs& a);

int report_command(const ReportArgs& a);
int compare_command(const CompareArgs& a);

}  // namespace loadpilot::cli
