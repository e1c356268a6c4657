#pragma once
// The HTML report: one self-contained file rendered from a results object
// (the --results-json content, see docs/report.md). All CSS and JavaScript
// — uPlot and the report's own code — are embedded in the binary at build
// time and inlined into the page, and a Content-Security-Policy forbids any
// network request, so the file works offline from disk.
//
// Safety: the results object is embedded as JSON inside
// <script type="application/json"> with '<', '>' and '&' written as \u
// escapes (and non-ASCII as \u escapes), so no string from the scenario or
// the target can close the element; the page's script renders every string
// with textContent, never as markup. The only other place data appears is
// the <title>, HTML-escaped.
//
// Determinism: the output depends only on `results` and `generated_at`, so
// `loadpilot report` on a saved results file reproduces the run's report
// byte for byte apart from the generation time.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/histogram.h"
#include "report/knee.h"
#include "report/summary.h"
#include "report/timeseries.h"

namespace loadpilot::report {

// The results file: Summary::to_json() plus "timeseries",
// "latency_histogram" (Histogram::to_json of the whole run) and, for step
// runs, "knee". Pointers may be null to leave a part out.
nlohmann::json results_json(const Summary& summary, const TimeSeries* series,
                            const metrics::Histogram* latency, const Knee* knee);

// Problems that make `results` unusable for a report or a comparison, each
// naming the field ("rps.actual: expected a number (got \"fast\")"); empty
// when usable. Only the fields the report's header and headline need are
// required; charts whose data is missing say so on the page. Documents
// nested over 64 levels deep are rejected before any field is looked at.
std::vector<std::string> check_results(const nlohmann::json& results);

// `generated_at` is shown in the page's footer ("2026-01-31T12:00:00Z").
std::string render_html_report(const nlohmann::json& results, const std::string& generated_at);

// Writes the report to `path`, creating missing parent directories.
// Returns false with a message naming the path on failure.
bool write_html_report(const std::string& path, const nlohmann::json& results,
                       const std::string& generated_at, std::string* error);

// Helpers, exposed for tests.
std::string escape_html(std::string_view text);
std::string json_for_script(const nlohmann::json& j);
std::string utc_now_iso();

}  // namespace loadpilot::report
