#pragma once
// JUnit XML for CI systems that show test results (`loadpilot run --junit
// PATH`, docs/output.md#--junit-path). One <testsuite> for the run, in the
// subset of the Ant/Jenkins JUnit schema those systems read
// (engine/tests/e2e/junit.xsd checks it), with these test cases:
//  * "run": fails when the summary lists problems (dropped arrivals, a lost
//    agent, an interruption, ...), one line per problem.
//  * one per threshold, named by its key and window ("checkout.p99_ms",
//    "p99_ms over 60s"): fails when the threshold was breached; the
//    message names the task, the worst window, the actual value and the
//    limit, and when a threshold stopped the run (abort_on_fail).
//  * one per task: fails when the task's error rate is above the run's
//    `error_rate` limit, or, without that threshold, when every attempt of
//    the task failed; skipped when it made no attempt. Its system-out holds
//    its requests, errors, error rate, iterations and latency percentiles.
// So the "run" and threshold cases fail exactly when the run's verdict does;
// task cases point at the task to look at and may fail on their own.
// A run of several scenarios (Summary::scenarios) adds one <testsuite> per
// scenario after the run's, named "RUN.SCENARIO", with the same cases over
// that scenario's own numbers, thresholds and problems.
// Text is escaped and made valid XML 1.0 (control characters and invalid
// UTF-8 become U+FFFD). Pure functions; thread-safe.
#include <string>

#include "report/summary.h"

namespace loadpilot::report {

// The document for `s`; `hostname` goes into the testsuite's attribute.
std::string junit_xml(const Summary& s, const std::string& hostname);

// junit_xml with this machine's host name, written through
// write_file_atomically (report/output_file.h). False with *error set.
bool write_junit(const std::string& path, const Summary& s, std::string* error);

// `text` made safe for XML character data and attribute values.
std::string xml_escape(std::string_view text);

}  // namespace loadpilot::report
