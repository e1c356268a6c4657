#include "cli/report_commands.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "report/compare.h"
#include "report/csv_export.h"
#include "report/html_report.h"
#include "report/junit.h"
#include "report/output_file.h"
#include "report/step_summary.h"

namespace loadpilot::cli {

namespace {

// Reads and checks a results file. On failure prints "error: PATH: ..." and
// returns nullopt.
std::optional<nlohmann::json> load_results(const std::string& path, const char* what) {
  // Opening a FIFO would wait for a writer forever; a directory or device
  // is no results file either.
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    fmt::print(stderr, "error: {} {}: not a regular file\n", what, path);
    return std::nullopt;
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    fmt::print(stderr, "error: {} {}: cannot read: {}\n", what, path,
               std::filesystem::exists(path) ? "permission denied or not a file" : "no such file");
    return std::nullopt;
  }
  std::stringstream buf;
  buf << f.rdbuf();
  nlohmann::json j = nlohmann::json::parse(buf.str(), nullptr, false);
  if (j.is_discarded()) {
    fmt::print(stderr, "error: {} {}: not valid JSON\n", what, path);
    return std::nullopt;
  }
  const std::vector<std::string> problems = report::check_results(j);
  if (!problems.empty()) {
    fmt::print(stderr, "error: {} {}: not a LoadPilot results file:\n", what, path);
    for (const std::string& p : problems) fmt::print(stderr, "  - {}\n", p);
    return std::nullopt;
  }
  return j;
}

}  // namespace

void add_report_options(CLI::App& run, RunArgs& a) {
  run.add_option("-r,--report", a.report, "Write the HTML report here")->capture_default_str();
  run.add_flag("--no-report", a.no_report, "Do not write the HTML report");
  run.add_flag("--save-baseline", a.save_baseline,
               std::string("Also save the results as the baseline (") + kBaselinePath + ")");
  run.add_option("--junit", a.junit, "Write a JUnit XML file (thresholds, tasks, problems) here");
  run.add_option("--csv", a.csv_prefix,
                 "Write PREFIX_stats.csv and PREFIX_stats_history.csv (Locust's columns)");
}

CLI::App* add_report_command(CLI::App& app, ReportArgs& a) {
  auto* cmd = app.add_subcommand("report", "Rebuild the HTML report from a results JSON file");
  cmd->add_option("results", a.results, "Results file written by run --results-json")->required();
  cmd->add_option("-o,--output", a.output, "HTML file to write (default: RESULTS with .html)");
  return cmd;
}

CLI::App* add_compare_command(CLI::App& app, CompareArgs& a) {
  auto* cmd = app.add_subcommand("compare", "Compare a results file with a baseline");
  cmd->add_option("current", a.current, "Results file of the run to judge")->required();
  cmd->add_option("baseline", a.baseline, "Baseline results file")->capture_default_str();
  cmd->add_option("--threshold", a.threshold,
                  "Percent a metric may get worse before it counts as a regression")
      ->capture_default_str()
      ->transform(real_number(0, 1'000'000, "percent"));
  cmd->add_flag("--no-color", a.no_color, "Plain text without colours");
  cmd->add_option("--min-change-ms", a.min_change_ms,
                  "Latency changes smaller than this many ms never count (noise floor)")
      ->capture_default_str();
  return cmd;
}

int report_command(const ReportArgs& a) {
  const auto results = load_results(a.results, "results file");
  if (!results) return kExitInvalid;
  std::string output = a.output;
  if (output.empty()) output = std::filesystem::path(a.results).replace_extension(".html").string();
  if (output == a.results) {
    fmt::print(stderr, "error: -o {}: would overwrite the results file\n", output);
    return kExitInvalid;
  }
  std::string error;
  if (!report::write_html_report(output, *results, report::utc_now_iso(), &error)) {
    fmt::print(stderr, "error: {}\n", error);
    return kExitInvalid;
  }
  fmt::print("report written to {}\n", output);
  return kExitOk;
}

int compare_command(const CompareArgs& a) {
  if (!(a.threshold >= 0)) {
    fmt::print(stderr, "error: --threshold: must be a percentage >= 0 (got {})\n", a.threshold);
    return kExitInvalid;
  }
  if (!(a.min_change_ms >= 0) || !std::isfinite(a.min_change_ms)) {
    fmt::print(stderr, "error: --min-change-ms: must be a number of ms >= 0 (got {})\n",
               a.min_change_ms);
    return kExitInvalid;
  }
  const auto current = load_results(a.current, "current results");
  if (!current) return kExitInvalid;
  const auto baseline = load_results(a.baseline, "baseline");
  if (!baseline) {
    if (a.baseline == kBaselinePath && !std::filesystem::exists(a.baseline))
      fmt::print(stderr, "hint: save one with `loadpilot run ... --save-baseline`\n");
    return kExitInvalid;
  }
  const report::Comparison c =
      report::compare_results(*baseline, *current, a.threshold, a.min_change_ms);
  report::print_comparison(stdout, c, a.baseline, a.current, a.threshold, color_on(a.no_color));
  return c.regressed() ? kExitThresholds : kExitOk;
}

}  // namespace loadpilot::cli
