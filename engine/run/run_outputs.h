#pragma once
// RunOutputs: what `loadpilot run` records for the report while it runs
// (time series, step results) and writes afterwards (results JSON, HTML
// report, baseline, knee line in the summary, JUnit XML, CSV files, the CI
// job summary; docs/output.md).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "load/engine.h"
#include "metrics/snapshot.h"
#include "plan/plan.h"
#include "report/knee.h"
#include "report/summary.h"
#include "report/timeseries.h"
#include "run/run_config.h"

namespace loadpilot::cli {

// Where --save-baseline writes and `compare` reads by default.
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

}  // namespace loadpilot::cli
