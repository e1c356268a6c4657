#include "capacity/outputs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "report/html_report.h"
#include "report/junit.h"
#include "report/numbers.h"
#include "report/step_summary.h"

namespace loadpilot::capacity {

namespace {

std::string thresholds_text(const std::map<std::string, double>& thresholds) {
  std::string out;
  for (const char* key : {"p50_ms", "p95_ms", "p99_ms", "max_ms", "error_rate"}) {
    const auto it = thresholds.find(key);
    if (it == thresholds.end()) continue;
    if (!out.empty()) out += ", ";
    out += threshold_label(it->first, it->second);
  }
  return out;
}

std::string percent_text(double share) {
  const double p = share * 100;
  return fmt::format("{:.1f}%", p);
}

// Why the step at the bracket's top failed, as the capacity line says it:
// "p99 (412 ms at 1,560/s)", "dropped arrivals (120 at 1,560/s)".
std::string failing_text(const StepResult& s) {
  if (const metrics::ThresholdResult* t = s.first_failed()) {
    const std::string label = actual_label(t->key, t->actual);  // "p99 412 ms"
    const auto space = label.find(' ');
    return fmt::format("{} ({} at {}/s)", label.substr(0, space), label.substr(space + 1),
                       rate_text(s.rps));
  }
  if (s.dropped > 0)
    return fmt::format("dropped arrivals ({} at {}/s)", s.dropped, rate_text(s.rps));
  return fmt::format("{} at {}/s", s.reason, rate_text(s.rps));
}

const char* outcome_word(StepOutcome o) {
  switch (o) {
    case StepOutcome::kPass:
      return "pass";
    case StepOutcome::kFail:
      return "FAIL";
    case StepOutcome::kGeneratorLimited:
      return "generator";
  }
  return "?";
}

}  // namespace

std::string rate_text(double rps) {
  const bool decimal = rps < 100 && std::abs(rps - std::round(rps)) >= 0.05;
  std::string digits = decimal ? fmt::format("{:.1f}", rps) : fmt::format("{:.0f}", rps);
  const auto dot = digits.find('.');
  std::string whole = digits.substr(0, dot);
  const std::string frac = dot == std::string::npos ? "" : digits.substr(dot);
  for (int i = static_cast<int>(whole.size()) - 3; i > 0; i -= 3) whole.insert(i, ",");
  return whole + frac;
}

const StepResult* SearchReport::first_failing() const {
  if (answer.failed_above <= 0) return nullptr;
  for (const StepResult& s : steps)
    if (s.outcome == StepOutcome::kFail && s.rps == answer.failed_above) return &s;
  return nullptr;
}

int SearchReport::exit_code() const { return answer.found && problems.empty() ? 0 : 1; }

std::string SearchReport::capacity_line() const {
  const std::string at = thresholds_text(thresholds);
  const std::string rate = rate_text(answer.capacity);
  if (!answer.found) {
    if (interrupted) return "no capacity found: the search was interrupted";
    if (answer.limit == "problem" && !problems.empty())
      return fmt::format("no capacity found: the search stopped after {} step{}: {}", steps.size(),
                         steps.size() == 1 ? "" : "s", problems.front());
    if (steps.empty())
      return fmt::format("no capacity found: the budget of {:g} s leaves no room for one step",
                         options.budget_s);
    const StepResult& last = steps.back();
    if (answer.limit == "generator")
      return fmt::format("no capacity found: the load generator could not deliver {}/s ({})",
                         rate_text(last.rps), last.reason);
    // The lowest rate that failed tells why.
    const StepResult* lowest = &steps.front();
    for (const StepResult& s : steps)
      if (s.outcome == StepOutcome::kFail && s.rps <= lowest->rps) lowest = &s;
    return fmt::format("no capacity found: not even rps_min {}/s met {}: {}",
                       rate_text(options.rps_min), at, failing_text(*lowest));
  }
  const std::string confirmed = answer.confirmed ? "" : ", not confirmed";
  if (answer.limit == "rps_max")
    return fmt::format(
        "capacity at least {} iterations/s (rps_max{}) at {}; every step up to rps_max passed",
        rate, confirmed, at);
  if (answer.limit == "generator") {
    const StepResult& last = steps.back();
    return fmt::format(
        "capacity at least {} iterations/s{} at {}; the load generator, not the target, was the "
        "limit: it could not deliver {}/s ({})",
        rate, answer.confirmed ? "" : " (not confirmed)", at, rate_text(last.rps), last.reason);
  }
  std::string precision = answer.failed_above > 0
                              ? fmt::format("to within {}", percent_text(answer.precision))
                              : std::string("no step above it failed");
  std::string line =
      fmt::format("capacity {} iterations/s ({}{}) at {}", rate, precision, confirmed, at);
  if (const StepResult* f = first_failing())
    line += fmt::format("; first failing threshold above it: {}", failing_text(*f));
  if (answer.limit == "budget") line += "; the budget ran out before the search finished";
  if (interrupted) line += "; the search was interrupted";
  return line;
}

nlohmann::json SearchReport::to_json() const {
  nlohmann::json st = nlohmann::json::array();
  double lag_max = 0, cpu_max = 0, cpu_wait_max = 0;
  std::map<std::string, int> held;
  for (const StepResult& s : steps) {
    st.push_back(s.to_json());
    lag_max = std::max(lag_max, s.lag_max_ms);
    cpu_max = std::max(cpu_max, s.cpu_max);
    cpu_wait_max = std::max(cpu_wait_max, s.cpu_wait_max);
    if (!s.held_back_by.empty()) ++held[s.held_back_by];
  }
  nlohmann::json first = nullptr;
  if (const StepResult* f = first_failing()) {
    first = {{"rps", f->rps}, {"reason", f->reason}};
    if (const metrics::ThresholdResult* t = f->first_failed())
      first.update({{"key", t->key}, {"actual", t->actual}, {"limit", t->limit}});
  }
  nlohmann::json capacity = {
      {"found", answer.found},
      {"rps",
       answer.found ? nlohmann::json(report::round_to(answer.capacity, 0.001)) : nlohmann::json()},
      {"precision", answer.failed_above > 0
                        ? nlohmann::json(report::round_to(answer.precision, 1e-4))
                        : nlohmann::json()},
      {"failed_above",
       answer.failed_above > 0 ? nlohmann::json(answer.failed_above) : nlohmann::json()},
      {"confirmed", answer.confirmed},
      {"limit", answer.limit},
      {"line", capacity_line()},
      {"first_failing", first},
      {"search",
       {{"rps_min", options.rps_min},
        {"rps_max", options.rps_max},
        {"precision", options.precision},
        {"growth", options.growth},
        {"budget_s", options.budget_s},
        {"warmup_s", warmup_s},
        {"hold_s", hold_s},
        {"confirm", options.confirm}}},
      {"steps", st}};
  return {{"type", "capacity"},
          {"scenario", scenario},
          {"file", file},
          {"target", target},
          {"started_at", started_at},
          {"duration_s", report::round_to(duration_s, 0.001)},
          {"interrupted", interrupted},
          {"workers", workers},
          {"agents", agents},
          {"max_connections", max_connections},
          {"thresholds", thresholds},
          {"passed", exit_code() == 0},
          {"problems", problems},
          {"capacity", capacity},
          {"generator",
           {{"lag_max_ms", lag_max},
            {"cpu_max", cpu_max},
            {"cpu_wait_max", cpu_wait_max},
            {"steps_held_back", held}}}};
}

std::string step_line(const StepResult& s) {
  return fmt::format(
      "step {:>2}  {:<7}  {:>9}/s  started {:>9}/s  p50 {:>8.1f} ms  p99 {:>8.1f} ms  "
      "errors {:>6.2f}%  {}{}",
      s.index, kind_name(s.kind), rate_text(s.rps), rate_text(s.started_rps), s.latency.p50_ms,
      s.latency.p99_ms, s.error_rate, outcome_word(s.outcome),
      s.reason.empty() ? "" : " — " + s.reason);
}

void print_search(std::FILE* out, const SearchReport& r) {
  fmt::print(out, "\n{} against {}: {} step{} in {:.1f} s (warm-up {:g} s, hold {:g} s each)\n\n",
             r.scenario, r.target, r.steps.size(), r.steps.size() == 1 ? "" : "s", r.duration_s,
             r.warmup_s, r.hold_s);
  fmt::print(out, "  {:>4}  {:<7}  {:>10}  {:>10}  {:>10}  {:>8}  {:<9}\n", "step", "kind",
             "rate /s", "p50 ms", "p99 ms", "errors", "verdict");
  for (const StepResult& s : r.steps)
    fmt::print(out, "  {:>4}  {:<7}  {:>10}  {:>10.1f}  {:>10.1f}  {:>7.2f}%  {}{}\n", s.index,
               kind_name(s.kind), rate_text(s.rps), s.latency.p50_ms, s.latency.p99_ms,
               s.error_rate, outcome_word(s.outcome),
               s.reason.empty() ? "" : " (" + s.reason + ")");
  fmt::print(out, "\n");
  for (const std::string& p : r.problems) fmt::print(out, "problem: {}\n", p);
  fmt::print(out, "{}\n", r.capacity_line());
}

std::string junit_xml(const SearchReport& r, const std::string& hostname) {
  using report::xml_escape;
  std::size_t failures = r.answer.found ? 0 : 1;
  std::string cases;
  cases += fmt::format("  <testcase name=\"capacity\" classname=\"{}\">\n", xml_escape(r.scenario));
  if (!r.answer.found)
    cases += fmt::format("    <failure message=\"{}\"/>\n", xml_escape(r.capacity_line()));
  cases += fmt::format("    <system-out>{}</system-out>\n  </testcase>\n",
                       xml_escape(r.capacity_line()));
  for (const std::string& p : r.problems) {
    ++failures;
    cases += fmt::format(
        "  <testcase name=\"problem\" classname=\"{}\">\n    <failure message=\"{}\"/>\n  "
        "</testcase>\n",
        xml_escape(r.scenario), xml_escape(p));
  }
  // Steps are evidence, not tests: a failing step is how a search finds the
  // answer, so they are listed in the output, not as failures.
  std::string steps;
  for (const StepResult& s : r.steps) steps += step_line(s) + "\n";
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<testsuites name=\"loadpilot find\" tests=\"{0}\" failures=\"{1}\" errors=\"0\" "
      "time=\"{2:.3f}\">\n"
      "<testsuite name=\"{3}\" tests=\"{0}\" failures=\"{1}\" errors=\"0\" skipped=\"0\" "
      "time=\"{2:.3f}\" timestamp=\"{4}\" hostname=\"{5}\">\n{6}"
      "  <system-out>{7}</system-out>\n</testsuite>\n</testsuites>\n",
      1 + r.problems.size(), failures, r.duration_s, xml_escape(r.scenario),
      xml_escape(r.started_at.substr(0, 19)), xml_escape(hostname.empty() ? "localhost" : hostname),
      cases, xml_escape(steps));
}

std::string step_summary_markdown(const SearchReport& r) {
  using report::markdown_cell;
  std::string o = fmt::format("### LoadPilot find: {} — {}\n\n", markdown_cell(r.scenario),
                              r.answer.found ? "✅ capacity found" : "❌ no capacity found");
  o += fmt::format("**{}**\n\n", markdown_cell(r.capacity_line()));
  o += "| step | kind | rate /s | p50 ms | p99 ms | errors | verdict |\n";
  o += "|---:|---|---:|---:|---:|---:|---|\n";
  for (const StepResult& s : r.steps)
    o += fmt::format("| {} | {} | {} | {:.1f} | {:.1f} | {:.2f}% | {}{} |\n", s.index,
                     kind_name(s.kind), rate_text(s.rps), s.latency.p50_ms, s.latency.p99_ms,
                     s.error_rate, outcome_word(s.outcome),
                     s.reason.empty() ? "" : " — " + markdown_cell(s.reason));
  o += fmt::format("\ntarget `{}`; {} steps in {:.1f} s\n\n", markdown_cell(r.target),
                   r.steps.size(), r.duration_s);
  return o;
}

namespace {

// The search drawn: each step a bar at its rate over its time (warm-up
// pale, hold solid), green passed, red failed, grey held back by the
// generator; the answer a dashed line.
std::string search_svg(const SearchReport& r) {
  constexpr double W = 860, H = 320, L = 70, R = 20, T = 20, B = 40;
  double t_max = 1, y_max = 1;
  for (const StepResult& s : r.steps) {
    t_max = std::max(t_max, s.end_s);
    y_max = std::max(y_max, s.rps);
  }
  y_max *= 1.1;
  const auto x = [&](double t) { return L + (W - L - R) * t / t_max; };
  const auto y = [&](double v) { return T + (H - T - B) * (1 - v / y_max); };
  std::string o = fmt::format(
      "<svg viewBox=\"0 0 {} {}\" width=\"100%\" role=\"img\" aria-label=\"capacity search\">\n", W,
      H);
  o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" class=\"axis\"/>\n", L, T,
                   H - B);
  o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" class=\"axis\"/>\n", L, H - B,
                   W - R);
  for (int i = 0; i <= 4; ++i) {
    const double v = y_max * i / 4;
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"end\">{}</text>\n",
                     L - 6, y(v) + 4, rate_text(v));
    const double t = t_max * i / 4;
    o += fmt::format(
        "<text x=\"{:.1f}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{:.0f} s</text>\n", x(t),
        H - B + 16, t);
  }
  o += fmt::format(
      "<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">time since the "
      "search started; bars: each step's arrival rate (pale: warm-up, solid: hold)</text>\n",
      (L + W - R) / 2, H - 4);
  for (const StepResult& s : r.steps) {
    const char* cls = s.outcome == StepOutcome::kPass   ? "pass"
                      : s.outcome == StepOutcome::kFail ? "fail"
                                                        : "gen";
    const double top = y(s.rps), base = y(0);
    o += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" class=\"{} warm\"/>\n",
        x(s.start_s), top, std::max(0.5, x(s.hold_s) - x(s.start_s)), base - top, cls);
    o += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
        "class=\"{}\"><title>step "
        "{}: {}/s, p99 {:.1f} ms, errors {:.2f}%: {}</title></rect>\n",
        x(s.hold_s), top, std::max(0.5, x(s.end_s) - x(s.hold_s)), base - top, cls, s.index,
        rate_text(s.rps), s.latency.p99_ms, s.error_rate,
        report::escape_html(s.reason.empty() ? "pass" : s.reason));
  }
  if (r.answer.found) {
    const double a = y(r.answer.capacity);
    o += fmt::format(
        "<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" class=\"answer\"/>\n<text x=\"{}\" "
        "y=\"{:.1f}\" class=\"answer-label\">capacity {}/s</text>\n",
        L, a, W - R, a, L + 6, a - 6, rate_text(r.answer.capacity));
  }
  o += "</svg>\n";
  return o;
}

}  // namespace

std::string html_report(const SearchReport& r, const std::string& generated_at) {
  using report::escape_html;
  std::string rows;
  for (const StepResult& s : r.steps)
    rows += fmt::format(
        "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1f}</td><td>{:.1f}</"
        "td><td>{:.2f}%</td><td>{}</td><td>{}</td></tr>\n",
        s.outcome == StepOutcome::kPass   ? "pass"
        : s.outcome == StepOutcome::kFail ? "fail"
                                          : "gen",
        s.index, kind_name(s.kind), rate_text(s.rps), rate_text(s.started_rps), s.latency.p50_ms,
        s.latency.p99_ms, s.error_rate, outcome_word(s.outcome), escape_html(s.reason));
  std::string generator;
  for (const StepResult& s : r.steps)
    generator += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{:.1f}</td><td>{:.0f}%</td><td>{:.0f}%</td><td>{}</"
        "td><td>{}</"
        "td></tr>\n",
        s.index, rate_text(s.rps), s.lag_max_ms, s.cpu_max * 100, s.cpu_wait_max * 100, s.late,
        s.held_back_by.empty() ? "—" : escape_html(s.held_back_by));
  return fmt::format(
      R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>LoadPilot capacity: {0}</title>
<style>
body{{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:960px}}
h1{{font-size:20px}} h2{{font-size:16px;margin-top:28px}}
.answer-line{{font-size:16px;padding:10px;border-radius:6px;background:{1}}}
table{{border-collapse:collapse}} td,th{{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}}
td:nth-child(2),td:last-child,th:last-child{{text-align:left}}
tr.fail td{{color:#a00}} tr.gen td{{color:#666}}
svg .axis{{stroke:#888}} svg .tick{{font-size:11px;fill:#555}}
svg rect.pass{{fill:#2a8a3a}} svg rect.fail{{fill:#c0392b}} svg rect.gen{{fill:#999}}
svg rect.warm{{opacity:.35}} svg .answer{{stroke:#1f4e9c;stroke-width:2;stroke-dasharray:6 4}}
svg .answer-label{{fill:#1f4e9c;font-size:12px}}
</style></head><body>
<h1>Capacity search: {0}</h1>
<p>target <code>{2}</code> · thresholds {3} · started {4}</p>
<p class="answer-line" id="answer">{5}</p>
<h2 id="search">The search</h2>
{6}
<h2 id="steps">Steps</h2>
<table><tr><th>step</th><th>kind</th><th>asked /s</th><th>started /s</th><th>p50 ms</th><th>p99 ms</th><th>errors</th><th>verdict</th><th>why</th></tr>
{7}</table>
<h2 id="generator">Load generator</h2>
<p>The generator's own health in each step's hold: the worst lateness of its event loops (a stall of the generator or its machine), its CPU per usable core, the longest share of a second one of its threads waited for a CPU (other processes on its cores), arrivals that started late, and what held the load back when the generator did (docs/engine.md#generator-health).</p>
<table><tr><th>step</th><th>rate /s</th><th>loop lag max ms</th><th>CPU max</th><th>waiting for CPU max</th><th>late arrivals</th><th>held back by</th></tr>
{8}</table>
<p><small>generated {9} by loadpilot find · docs/capacity.md</small></p>
</body></html>
)",
      escape_html(r.scenario), r.answer.found ? "#e6f4ea" : "#fdecea", escape_html(r.target),
      escape_html(thresholds_text(r.thresholds)), escape_html(r.started_at),
      escape_html(r.capacity_line()), search_svg(r), rows, generator, escape_html(generated_at));
}

}  // namespace loadpilot::capacity
