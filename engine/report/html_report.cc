#include "report/html_report.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <utility>

#include "report/output_file.h"
#include "report/report_assets.h"

namespace loadpilot::report {

nlohmann::json results_json(const Summary& summary, const TimeSeries* series,
                            const metrics::Histogram* latency, const Knee* knee) {
  nlohmann::json j = summary.to_json();
  if (series) j["timeseries"] = series->to_json();
  if (latency) j["latency_histogram"] = latency->to_json();
  if (knee) j["knee"] = knee->to_json();
  return j;
}

namespace {

std::string type_of(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  return v.dump().substr(0, 40);
}

// Checks `j[path]` (dotted) against `want` and appends a problem if needed.
void expect(const nlohmann::json& root, const std::string& dotted,
            bool (*ok)(const nlohmann::json&), const char* want,
            std::vector<std::string>* problems) {
  const nlohmann::json* node = &root;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = dotted.find('.', start);
    const std::string key = dotted.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!node->is_object() || !node->contains(key)) {
      problems->push_back(fmt::format("{}: missing", dotted));
      return;
    }
    node = &(*node)[key];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!ok(*node))
    problems->push_back(fmt::format("{}: expected {} (got {})", dotted, want, type_of(*node)));
}

// Results files nest 6 levels; allow ten times that and reject deeper
// documents before anything dumps them: nlohmann's dump() recurses once per
// level and overflows the stack long before its parser gives up.
constexpr std::size_t kMaxResultsDepth = 64;

// Levels of nesting (a scalar is 1), counted without recursion; stops
// counting past `limit`.
std::size_t nesting_depth(const nlohmann::json& root, std::size_t limit) {
  std::size_t deepest = 0;
  std::vector<std::pair<const nlohmann::json*, std::size_t>> todo{{&root, 1}};
  while (!todo.empty() && deepest <= limit) {
    const auto [node, depth] = todo.back();
    todo.pop_back();
    deepest = std::max(deepest, depth);
    if (node->is_structured())
      for (const nlohmann::json& child : *node) todo.emplace_back(&child, depth + 1);
  }
  return deepest;
}

bool is_number(const nlohmann::json& v) { return v.is_number(); }
bool is_string(const nlohmann::json& v) { return v.is_string(); }
bool is_array(const nlohmann::json& v) { return v.is_array(); }
bool is_object(const nlohmann::json& v) { return v.is_object(); }
bool is_bool(const nlohmann::json& v) { return v.is_boolean(); }

}  // namespace

std::vector<std::string> check_results(const nlohmann::json& r) {
  std::vector<std::string> problems;
  if (!r.is_object()) return {"the top level: expected a JSON object (a LoadPilot results file)"};
  if (nesting_depth(r, kMaxResultsDepth) > kMaxResultsDepth)
    return {fmt::format("the top level: nested over {} levels deep (a results file nests 6)",
                        kMaxResultsDepth)};
  for (const char* k : {"scenario", "target", "mode"})
    expect(r, k, is_string, "a string", &problems);
  for (const char* k :
       {"requests", "errors", "error_rate", "duration_s", "rps.actual", "rps.target",
        "latency.p50_ms", "latency.p95_ms", "latency.p99_ms", "latency.max_ms"})
    expect(r, k, is_number, "a number", &problems);
  expect(r, "passed", is_bool, "true or false", &problems);
  expect(r, "tasks", is_array, "an array", &problems);
  if (r.contains("tasks") && r["tasks"].is_array())
    for (std::size_t i = 0; i < r["tasks"].size(); ++i)
      expect(r["tasks"][i], "name", is_string, "a string", &problems);
  // Optional parts must at least have the right shape when present.
  for (const char* k : {"timeseries", "latency_histogram", "knee", "custom_metrics"})
    if (r.contains(k)) expect(r, k, is_object, "an object", &problems);
  for (const char* k : {"thresholds", "top_errors"})
    if (r.contains(k)) expect(r, k, is_array, "an array", &problems);
  return problems;
}

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string json_for_script(const nlohmann::json& j) {
  // ensure_ascii also escapes U+2028/U+2029; invalid UTF-8 from a target is
  // replaced rather than thrown on.
  const std::string text = j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size() + 64);
  // These three characters occur only inside JSON strings, where \uXXXX is
  // an equivalent spelling; outside strings JSON never uses them.
  for (char c : text) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string utc_now_iso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string render_html_report(const nlohmann::json& results, const std::string& generated_at) {
  const std::string scenario = results.contains("scenario") && results["scenario"].is_string()
                                   ? results["scenario"].get<std::string>()
                                   : "run";
  // One pass over the template: text substituted in is never scanned for
  // placeholders again, so data cannot inject one.
  const std::string_view tpl = assets::kReportHtml;
  std::string out;
  out.reserve(tpl.size() + assets::kUplotJs.size() + assets::kReportJs.size() + 256 * 1024);
  std::size_t pos = 0;
  while (pos < tpl.size()) {
    const std::size_t open = tpl.find("{{", pos);
    if (open == std::string_view::npos) break;
    const std::size_t close = tpl.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(tpl.substr(pos, open - pos));
    const std::string_view name = tpl.substr(open + 2, close - open - 2);
    if (name == "TITLE")
      out += escape_html("LoadPilot report — " + scenario);
    else if (name == "GENERATED_AT")
      out += escape_html(generated_at);
    else if (name == "DATA")
      out += json_for_script(results);
    else if (name == "UPLOT_CSS")
      out += assets::kUplotCss;
    else if (name == "REPORT_CSS")
      out += assets::kReportCss;
    else if (name == "UPLOT_JS")
      out += assets::kUplotJs;
    else if (name == "REPORT_JS")
      out += assets::kReportJs;
    else
      out.append(tpl.substr(open, close + 2 - open));  // not ours: keep verbatim
    pos = close + 2;
  }
  out.append(tpl.substr(pos));
  return out;
}

bool write_html_report(const std::string& path, const nlohmann::json& results,
                       const std::string& generated_at, std::string* error) {
  return write_file_atomically(path, render_html_report(results, generated_at), error);
}

}  // namespace loadpilot::report
