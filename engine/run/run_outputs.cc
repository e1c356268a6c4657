#include "run/run_outputs.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>

#include "report/csv_export.h"
#include "report/html_report.h"
#include "report/junit.h"
#include "report/output_file.h"
#include "report/step_summary.h"
#include "run/exit_codes.h"

namespace loadpilot::cli {

bool color_on(bool no_color) {
  return isatty(STDOUT_FILENO) && !no_color && !std::getenv("NO_COLOR");
}

RunOutputs::RunOutputs(const RunArgs& args, const plan::Plan& plan, const load::Engine& engine)
    : args_(args),
      plan_(plan),
      engine_(engine),
      series_(engine.collector().task_names(), plan.profile.closed()),
      // The knee is a rate's: a closed model's steps are users, not rates.
      steps_(engine.profile(), !plan.profile.unlimited && !plan.profile.closed() &&
                                   plan.profile.mode == plan::Mode::kStep) {}

void RunOutputs::on_snapshot(const metrics::Snapshot& s) {
  // Called on the collector thread right after the round was merged, so
  // last_round() is this snapshot's round.
  series_.add(s, engine_.collector().last_round());
  if (steps_.active()) steps_.add(s, engine_.collector().total_latency());
}

nlohmann::json RunOutputs::results(const report::Summary& summary) {
  if (steps_.active() && !knee_)
    knee_ = std::make_unique<report::Knee>(
        report::find_knee(steps_.results(), plan::whole_run_limits(plan_.thresholds)));
  const metrics::Histogram& latency = engine_.collector().total_latency();
  const nlohmann::json j = report::results_json(summary, &series_, &latency, knee_.get());
  // Round-trip through text so the report written now and one rebuilt
  // later from the saved file see exactly the same values.
  return nlohmann::json::parse(j.dump());
}

std::string RunOutputs::knee_line() {
  if (!steps_.active()) return {};
  if (!knee_)
    knee_ = std::make_unique<report::Knee>(
        report::find_knee(steps_.results(), plan::whole_run_limits(plan_.thresholds)));
  return report::describe_knee(*knee_);
}

int RunOutputs::write_files(const nlohmann::json& results,
                            std::vector<std::string>* written) const {
  int code = kExitOk;
  std::string error;
  if (!args_.no_report) {
    if (report::write_html_report(args_.report, results, report::utc_now_iso(), &error)) {
      written->push_back(fmt::format("report written to {}", args_.report));
    } else {
      fmt::print(stderr, "error: {}\n", error);
      code = kExitInvalid;
    }
  }
  if (args_.save_baseline) {
    if (report::write_file_atomically(kBaselinePath, results.dump(2) + "\n", &error)) {
      written->push_back(fmt::format("baseline saved to {}", kBaselinePath));
    } else {
      fmt::print(stderr, "error: {}\n", error);
      code = kExitInvalid;
    }
  }
  return code;
}

int RunOutputs::write_ci_files(const report::Summary& summary,
                               std::vector<std::string>* written) const {
  int code = kExitOk;
  std::string error;
  if (!args_.junit.empty()) {
    if (report::write_junit(args_.junit, summary, &error)) {
      written->push_back(fmt::format("JUnit XML written to {}", args_.junit));
    } else {
      fmt::print(stderr, "error: {}\n", error);
      code = kExitInvalid;
    }
  }
  if (!args_.csv_prefix.empty()) {
    const metrics::Collector& c = engine_.collector();
    if (report::write_csv(args_.csv_prefix, summary, plan_, c.cumulative(), c.total_latency(),
                          series_, &error)) {
      const report::CsvPaths paths = report::csv_paths(args_.csv_prefix);
      written->push_back(fmt::format("CSV written to {} and {}", paths.stats, paths.history));
    } else {
      fmt::print(stderr, "error: {}\n", error);
      code = kExitInvalid;
    }
  }
  // A CI job's summary page: not asked for on the command line, so a
  // failure to append warns and leaves the exit code alone.
  const char* step_summary = std::getenv("GITHUB_STEP_SUMMARY");
  if (step_summary && *step_summary) {
    if (report::append_step_summary(step_summary, report::step_summary_markdown(summary), &error))
      written->push_back(fmt::format("job summary appended to {}", step_summary));
    else
      fmt::print(stderr, "warning: GITHUB_STEP_SUMMARY: {}\n", error);
  }
  return code;
}

}  // namespace loadpilot::cli
