// Fuzz target: reading a results file back, as `loadpilot report` and
// `loadpilot compare` do (engine/cli/report_commands.cc): JSON text ->
// report::check_results -> report::compare_results / print_comparison and
// report::render_html_report (engine/report/compare.h, html_report.h).
//
// Input: one results document, or two separated by a NUL byte (current,
// then baseline). Inputs that are not JSON are skipped.
//
// Invariants:
//  * check_results() accepts any JSON value without throwing, and each
//    problem names its field ("FIELD: PROBLEM");
//  * a document that passes check_results() compares with itself as
//    unchanged: every diff 0 %, nothing regressed or improved, no notes;
//  * comparing two documents that pass never throws; a metric is never
//    both regressed and improved; Comparison::regressed() is true exactly
//    when one metric regressed; print_comparison() prints without throwing;
//  * the report page embeds the results so that no byte of them can close
//    the <script> element ('<', '>' and '&' never appear raw), and the
//    embedded text parses back to the same JSON.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz/fuzz_support.h"
#include "report/compare.h"
#include "report/html_report.h"

namespace {

using nlohmann::json;
namespace report = loadpilot::report;

std::FILE* sink() {
  static std::FILE* f = std::fopen("/dev/null", "w");
  return f;
}

// check_results() on `text`; the parsed document when it passes.
std::optional<json> load(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  const std::vector<std::string> problems = report::check_results(j);
  for (const std::string& p : problems) {
    FUZZ_CHECK(p.find(": ") != std::string::npos && p.find(": ") > 0, "problem: " + p);
  }
  if (!problems.empty()) return std::nullopt;
  return j;
}

void check_comparison(const report::Comparison& c) {
  bool any = false;
  for (const report::MetricComparison& m : c.metrics) {
    FUZZ_CHECK(!(m.regressed && m.improved), m.name + " both regressed and improved");
    any = any || m.regressed;
  }
  FUZZ_CHECK(c.regressed() == any, "regressed() disagrees with the metrics");
  report::print_comparison(sink(), c, "baseline.json", "current.json", 10, true);
}

void check_page(const json& results) {
  const std::string embedded = report::json_for_script(results);
  FUZZ_CHECK(embedded.find_first_of("<>&") == std::string::npos,
             "raw '<', '>' or '&' in the embedded results");
  FUZZ_CHECK(json::parse(embedded) == results, "embedded results parse to something else");
  const std::string page = report::render_html_report(results, "2026-01-01T00:00:00Z");
  FUZZ_CHECK(page.find(embedded) != std::string::npos, "the page lacks the results");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const auto current = load(input.substr(0, nul));
  if (!current) return 0;
  check_page(*current);

  const report::Comparison self = report::compare_results(*current, *current, 10);
  FUZZ_CHECK(self.notes.empty(), "a document differs from itself: " + self.notes.front());
  for (const report::MetricComparison& m : self.metrics) {
    FUZZ_CHECK(m.diff_pct && *m.diff_pct == 0 && !m.regressed && !m.improved,
               m.name + " changed against itself");
  }
  check_comparison(self);

  if (nul == std::string_view::npos) return 0;
  const auto baseline = load(input.substr(nul + 1));
  if (!baseline) return 0;
  for (double threshold : {0.0, 10.0, 1e9}) {
    check_comparison(report::compare_results(*baseline, *current, threshold));
  }
  return 0;
}
