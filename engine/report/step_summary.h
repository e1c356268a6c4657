#pragma once
// The Markdown summary of a run for a CI job's summary page: appended to
// the file named by $GITHUB_STEP_SUMMARY when that variable is set
// (docs/output.md#github-actions-job-summary). It holds the verdict, the
// key numbers, the thresholds, the tasks and the problems. The file is
// shared by every step of a job, so it is appended to (one write, O_APPEND),
// never replaced. Pure functions apart from append_step_summary;
// thread-safe.
#include <string>
#include <string_view>

#include "report/summary.h"

namespace loadpilot::report {

std::string step_summary_markdown(const Summary& s);

// `text` safe inside a Markdown table cell: no line break, `|` escaped,
// HTML special characters as entities.
std::string markdown_cell(std::string_view text);

// Appends `text` to `path` (created when missing). False with
// "cannot append to PATH: reason" in *error.
bool append_step_summary(const std::string& path, std::string_view text, std::string* error);

}  // namespace loadpilot::report
