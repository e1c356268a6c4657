#pragma once
// The report side of the command line (what `run` writes: run/run_outputs.h):
//  * `loadpilot report RESULTS.json -o report.html`
//  * `loadpilot compare CURRENT [BASELINE] [--threshold PCT]`
// Exit codes as in cli/commands.h: compare exits 1 on a regression; bad or
// missing files exit 2 with a message naming the file and the problem.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/run_command.h"
#include "run/run_outputs.h"

namespace loadpilot::cli {

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
