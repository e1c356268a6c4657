#include "report/summary.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <string_view>

#include "build_info.h"
#include "metrics/custom_thresholds.h"
#include "report/books.h"
#include "report/custom_summary.h"
#include "report/scenario_summary.h"
#include "report/text_fit.h"
#include "report/verdict.h"

namespace loadpilot::report {

namespace {
std::string iso_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}
}  // namespace

void Summary::add_problem(std::string problem) {
  problems.push_back(std::move(problem));
  passed = false;
}

Summary build_summary(const plan::Plan& plan, const metrics::Collector& collector, double planned_s,
                      double planned_iterations, double duration_s, bool interrupted,
                      const RunLimits& limits, const metrics::ThresholdEvaluator* thresholds) {
  Summary s;
  s.scenario = plan.name;
  s.file = plan.file;
  s.target = plan.target;
  s.mode = plan.profile.label();
  s.model = std::string(plan.profile.model());
  if (plan.profile.closed()) {
    s.users = static_cast<std::uint64_t>(plan.profile.users);
    s.peak_active_users = collector.peak_active_users();
    s.wait = plan.profile.wait.label();
  }
  s.started_at = iso_now();
  s.interrupted = interrupted;
  s.duration_s = duration_s;
  s.planned_s = planned_s;
  s.target_rps = plan.profile.unlimited || plan.profile.closed() ? 0 : plan.profile.rps;
  s.planned_iterations = planned_iterations;
  const metrics::IntervalStats& c = collector.cumulative();
  // Rates are per second of the time iterations were started in: the
  // profile, or longer when a backlog was still being started during the
  // drain, or the time actually run when stopped early. Never the asked
  // rate by construction (docs/output.md).
  const double sending_s =
      interrupted ? duration_s : std::min(duration_s, std::max(planned_s, c.last_start_s));
  const double secs = std::max(1e-9, sending_s);
  metrics::Histogram service;
  for (std::size_t i = 0; i < c.tasks.size(); ++i) {
    const metrics::TaskStats& t = c.tasks[i];
    TaskSummary ts;
    ts.name = collector.task_names()[i];
    ts.hook = i >= plan.tasks.size();
    ts.weight = ts.hook ? 0 : plan.tasks[i].weight;
    ts.requests = t.requests;
    ts.errors = t.errors;
    ts.iterations = t.iterations;
    ts.wire_iterations = t.wire_iterations;
    ts.wire_known = t.wire_known;
    ts.methods = metrics::method_names(t.methods);
    ts.rps = t.requests / secs;
    ts.error_rate = metrics::percent(t.errors, t.attempts());
    ts.latency = metrics::LatencySummary::of(t.latency);
    ts.iteration = metrics::LatencySummary::of(t.iteration);
    s.tasks.push_back(ts);
    s.requests += t.requests;
    s.errors += t.errors;
    s.attempts += t.attempts();
    s.iterations += t.iterations;
    for (std::size_t k = 0; k < metrics::kErrorKindCount; ++k)
      s.errors_by_kind[k] += t.errors_by_kind[k];
    service.merge(t.service);
  }
  for (const metrics::NamedStats& n : c.named) {
    if (n.task >= s.tasks.size()) continue;
    NamedSummary ns;
    ns.name = n.name;
    ns.requests = n.requests;
    ns.errors = n.errors;
    ns.rps = n.requests / secs;
    ns.error_rate = metrics::percent(n.errors, n.requests);
    ns.latency = metrics::LatencySummary::of(n.latency);
    s.tasks[n.task].named.push_back(std::move(ns));
  }
  s.started = c.iterations_started;
  s.dropped = c.dropped;
  s.late = c.late;
  s.pacing_late = c.pacing_late;
  s.cut_off = c.cut_off;
  s.errors += s.cut_off;  // as in metrics::Snapshot: a failed attempt of the run
  s.attempts += s.cut_off;
  s.dropped_no_vuser = c.dropped_no_vuser;
  s.retries = c.retries;
  s.responses = c.responses;
  s.bytes_sent = c.bytes_sent;
  s.bytes_received = c.bytes_received;
  s.http2_requests = c.http2_responses;
  s.websocket = c.websocket;
  s.grpc_status = c.grpc_status;
  if (plan.profile.closed()) {
    // No schedule: what was planned is what came due (docs/output.md#iterations).
    s.planned_iterations = static_cast<double>(s.started + s.dropped);
  } else if (!plan.profile.unlimited) {
    const auto planned = static_cast<std::uint64_t>(std::ceil(planned_iterations - 1e-9));
    s.not_started = planned > s.started + s.dropped ? planned - s.started - s.dropped : 0;
  }
  s.actual_rps = s.requests / secs;
  s.iterations_rps = s.iterations / secs;
  s.error_rate = metrics::percent(s.errors, s.attempts);
  s.latency = metrics::LatencySummary::of(collector.total_latency());
  s.service = metrics::LatencySummary::of(service);
  judge_overload(s, collector, limits, plan.profile.unlimited);
  for (const auto& [key, entry] : c.messages.top(10)) {
    s.top_errors.push_back(
        {std::string(metrics::name(key.first)), key.second, entry.count, entry.first_seen_s});
  }
  judge_thresholds(s, plan, collector, thresholds);
  // Custom metrics' thresholds (NAME.STAT, whole run): metrics/custom_thresholds.h.
  s.custom = run_custom_metrics(plan.custom_metrics, c.custom);
  if (!plan.custom_metrics.empty()) {
    std::map<std::string, double> limits;
    for (const auto& [key, t] : plan.thresholds) limits[key] = t.limit;
    std::vector<metrics::ThresholdResult> custom =
        metrics::evaluate_custom_thresholds(limits, plan.custom_metrics, s.custom);
    if (!metrics::all_passed(custom)) s.passed = false;
    for (metrics::ThresholdResult& r : custom) s.thresholds.push_back(std::move(r));
  }
  // Numbers that do not cover the asked load cannot pass.
  if (interrupted)
    s.add_problem(
        fmt::format("stopped early, after {:.1f} s of {:.1f} s: the numbers cover only "
                    "the part that ran",
                    duration_s, planned_s));
  if (!plan.profile.unlimited && s.dropped * 100 > s.planned_iterations)
    s.add_problem(
        fmt::format("the asked load was not delivered: {} of {:.0f} planned arrivals "
                    "({:.1f}%) were dropped",
                    s.dropped, s.planned_iterations,
                    100.0 * static_cast<double>(s.dropped) / s.planned_iterations));
  // Nothing ran at all: the run measured nothing, so it cannot pass.
  if (s.started == 0 && s.planned_iterations >= 1)
    s.add_problem(
        fmt::format("nothing was measured: none of the {:.0f} planned iterations "
                    "started ({} dropped, {} not started)",
                    s.planned_iterations, s.dropped, s.not_started));
  // Every attempt failed: the run measured only failures (their latency is
  // the time to fail), whatever the thresholds say.
  if (s.attempts > 0 && s.errors >= s.attempts) {
    std::string most;
    if (!s.top_errors.empty())
      most = fmt::format("; most often {}: {}", s.top_errors[0].kind, s.top_errors[0].message);
    s.add_problem(fmt::format("no request succeeded: all {} attempts failed{}", s.attempts, most));
  }
  // Uncaught loadpilot.data.DataExhausted: iterations failed for want of
  // test data, so the run did not do what it was written to do
  // (docs/scenarios.md#when-the-rows-run-out).
  std::uint64_t exhausted = 0;
  std::string first_exhausted;
  for (const auto& [key, entry] : c.messages.entries) {
    if (key.first != metrics::ErrorKind::kException ||
        key.second.find(": DataExhausted: ") == std::string::npos)
      continue;
    exhausted += entry.count;
    if (first_exhausted.empty()) first_exhausted = key.second;
  }
  if (exhausted > 0)
    s.add_problem(fmt::format("the test data ran out: {} iterations failed on {}", exhausted,
                              first_exhausted));
  for (std::string& p : check_books(s, !plan.profile.unlimited)) s.add_problem(std::move(p));
  return s;
}

std::uint64_t Summary::response_total() const {
  std::uint64_t n = 0;
  for (std::uint64_t c : responses) n += c;
  return n;
}

std::string Summary::protocol() const {
  const std::uint64_t total = response_total();
  if (http2_requests == 0) return "HTTP/1.1";
  if (http2_requests >= total) return "HTTP/2";
  return "HTTP/1.1 and HTTP/2";
}

nlohmann::json Summary::to_json() const {
  nlohmann::json kinds = nlohmann::json::object();
  for (std::size_t k = 0; k < metrics::kErrorKindCount; ++k)
    kinds[std::string(metrics::kErrorKindNames[k])] = errors_by_kind[k];
  nlohmann::json errs = nlohmann::json::array();
  for (const ErrorLine& e : top_errors)
    errs.push_back({{"kind", e.kind},
                    {"message", e.message},
                    {"count", e.count},
                    {"first_seen_s", e.first_seen_s}});
  nlohmann::json tasks_json = nlohmann::json::array();
  for (const TaskSummary& t : tasks) {
    nlohmann::json named_json = nlohmann::json::array();
    for (const NamedSummary& n : t.named)
      named_json.push_back({{"name", n.name},
                            {"requests", n.requests},
                            {"errors", n.errors},
                            {"error_rate", n.error_rate},
                            {"rps", n.rps},
                            {"latency", n.latency.to_json()}});
    tasks_json.push_back({{"name", t.name},
                          {"weight", t.hook ? nlohmann::json(nullptr) : nlohmann::json(t.weight)},
                          {"hook", t.hook},
                          {"requests", t.requests},
                          {"errors", t.errors},
                          {"iterations", t.iterations},
                          {"wire_iterations", t.wire_known ? nlohmann::json(t.wire_iterations)
                                                           : nlohmann::json(nullptr)},
                          {"rps", t.rps},
                          {"error_rate", t.error_rate},
                          {"latency", t.latency.to_json()},
                          {"iteration", t.iteration.to_json()},
                          {"named_requests", std::move(named_json)}});
  }
  nlohmann::json th = nlohmann::json::array();
  for (const metrics::ThresholdResult& r : thresholds) th.push_back(r.to_json());
  nlohmann::json out = {
      {"loadpilot_version", kVersion},
      {"scenario", scenario},
      {"file", file},
      {"target", target},
      {"mode", mode},
      {"model", model},
      {"users",
       model == "closed"
           ? nlohmann::json{{"planned", users}, {"peak_active", peak_active_users}, {"wait", wait}}
           : nlohmann::json(nullptr)},
      {"started_at", started_at},
      {"interrupted", interrupted},
      {"signal", interrupt_signal},
      {"duration_s", duration_s},
      {"planned_duration_s", planned_s},
      {"rps", {{"target", target_rps}, {"actual", actual_rps}, {"iterations", iterations_rps}}},
      {"requests", requests},
      {"errors", errors},
      {"error_rate", error_rate},
      {"iterations",
       {{"planned", planned_iterations},
        {"started", started},
        {"finished", iterations},
        {"cut_off", cut_off},
        {"dropped", dropped},
        {"dropped_no_vuser", dropped_no_vuser},
        {"not_started", not_started},
        {"late", late},
        {"pacing_late", pacing_late}}},
      {"attempts", attempts},
      {"retries", retries},
      {"responses", metrics::responses_json(responses)},
      {"protocol",
       {{"name", protocol()},
        {"http1_requests", response_total() - std::min(response_total(), http2_requests)},
        {"http2_requests", http2_requests}}},
      {"bytes",
       {{"sent", bytes_sent},
        {"received", bytes_received},
        {"sent_per_s", duration_s > 0 ? bytes_sent / duration_s : 0.0},
        {"received_per_s", duration_s > 0 ? bytes_received / duration_s : 0.0}}},
      {"overload", overload.empty()
                       ? nlohmann::json(nullptr)
                       : nlohmann::json{{"bottleneck", bottleneck}, {"message", overload}}},
      {"generator", generator},
      {"generator_bound",
       generator_bound.empty() ? nlohmann::json() : nlohmann::json(generator_bound)},
      {"problems", problems},
      {"warnings", warnings},
      {"errors_by_kind", kinds},
      {"top_errors", errs},
      {"latency", latency.to_json()},
      {"service_time", service.to_json()},
      {"tasks", tasks_json},
      {"thresholds", th},
      {"aborted", aborted.empty()
                      ? nlohmann::json(nullptr)
                      : nlohmann::json{{"threshold", aborted_key}, {"message", aborted}}},
      {"custom_metrics", metrics::custom_metrics_json(custom)},
      // null for a run that used no WebSocket (docs/protocols.md#websocket)
      {"websocket", websocket.empty() ? nlohmann::json(nullptr) : websocket.to_json()},
      // null for a run that made no gRPC call (docs/protocols.md#grpc)
      {"grpc_status", grpc_status.empty() ? nlohmann::json(nullptr) : grpc_status.to_json()},
      {"passed", passed}};
  if (!scenarios.empty()) out["scenarios"] = scenarios_json(scenarios);
  return out;
}

namespace {
struct Style {
  bool color;
  std::string bold(const std::string& s) const { return color ? "\033[1m" + s + "\033[0m" : s; }
  std::string green(const std::string& s) const { return color ? "\033[32m" + s + "\033[0m" : s; }
  std::string red(const std::string& s) const { return color ? "\033[31m" + s + "\033[0m" : s; }
  std::string dim(const std::string& s) const { return color ? "\033[2m" + s + "\033[0m" : s; }
};

// The summary is laid out for 80 columns, or for the terminal when it is
// narrower: lines of prose wrap under their label, number rows break
// between figures, and a task whose name does not fit its column gets a
// line of its own.
constexpr int kSummaryWidth = 80;

int summary_width(std::FILE* out) {
  winsize ws{};
  if (isatty(fileno(out)) && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return std::clamp(static_cast<int>(ws.ws_col), 40, kSummaryWidth);
  return kSummaryWidth;
}

// TEXT wrapped at WIDTH: the first line starts with FIRST, the next
// ones with as many spaces; each line goes through PAINT (a colour).
void print_wrapped(std::FILE* out, int width, std::string_view first, std::string_view text,
                   const std::function<std::string(const std::string&)>& paint = {}) {
  const std::string indent(static_cast<std::size_t>(display_width(first)), ' ');
  for (const std::string& line : wrap_words(text, width, first, indent))
    fmt::print(out, "{}\n", paint ? paint(line) : line);
}

// FIGURES ("p50 1.23") laid on lines of WIDTH columns, two spaces apart,
// never split inside a figure.
void print_figures(std::FILE* out, int width, const std::vector<std::string>& figures) {
  std::string line = "  ";
  bool empty = true;
  for (const std::string& f : figures) {
    if (!empty && display_width(line) + 2 + display_width(f) > width) {
      fmt::print(out, "{}\n", line);
      line = "  ";
      empty = true;
    }
    line += (empty ? "" : "  ") + f;
    empty = false;
  }
  fmt::print(out, "{}\n", line);
}

// A task's sub-rows are indented under it, by kSubRowIndent columns, with
// no weight of their own (docs/output.md#summary).
constexpr std::string_view kSubRowIndent = "  ";

void print_tasks(std::FILE* out, int width, const std::vector<TaskSummary>& tasks) {
  const std::vector<std::string> titles = {"weight", "requests", "errors", "req/s",
                                           "p50 ms", "p99 ms",   "max ms"};
  // Rows in print order: each task, then its sub-rows.
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> rows;
  auto figures = [](const std::string& weight, std::uint64_t requests, std::uint64_t errors,
                    double rps, const metrics::LatencySummary& l) {
    return std::vector<std::string>{weight,
                                    fmt::format("{}", requests),
                                    fmt::format("{}", errors),
                                    fmt::format("{:.1f}", rps),
                                    fmt::format("{:.2f}", l.p50_ms),
                                    fmt::format("{:.2f}", l.p99_ms),
                                    fmt::format("{:.2f}", l.max_ms)};
  };
  for (const TaskSummary& t : tasks) {
    names.push_back(printable(t.name));
    rows.push_back(figures(t.hook ? std::string("hook") : fmt::format("{:g}", t.weight), t.requests,
                           t.errors, t.rps, t.latency));
    for (const NamedSummary& n : t.named) {
      names.push_back(std::string(kSubRowIndent) + printable(n.name));
      rows.push_back(figures("", n.requests, n.errors, n.rps, n.latency));
    }
  }
  // Each figure column as wide as its widest cell; the name column gets
  // what is left of the 80, or less when the names are short.
  std::vector<int> widths;
  int numbers = 0;
  for (std::size_t c = 0; c < titles.size(); ++c) {
    int w = display_width(titles[c]);
    for (const auto& r : rows) w = std::max(w, display_width(r[c]));
    widths.push_back(w);
    numbers += w + 1;
  }
  int name_width = 4;
  for (const std::string& name : names) name_width = std::max(name_width, display_width(name));
  name_width = std::max(std::min(name_width, width - 2 - numbers), 4);
  auto row = [&](const std::string& name, const std::vector<std::string>& cells) {
    std::string line;
    if (display_width(name) > name_width) {
      fmt::print(out, "  {}\n", name);  // too long for the column: a line of its own
      line = "  " + std::string(static_cast<std::size_t>(name_width), ' ');
    } else {
      line = "  " + pad(name, name_width);
    }
    for (std::size_t i = 0; i < cells.size(); ++i) line += " " + pad(cells[i], widths[i], false);
    fmt::print(out, "{}\n", line);
  };
  row("task", titles);
  for (std::size_t i = 0; i < rows.size(); ++i) row(names[i], rows[i]);
}

}  // namespace

void print_summary(std::FILE* out, const Summary& s, bool color) {
  const Style st{color};
  const int width = summary_width(out);
  auto red = [&](const std::string& line) { return st.red(line); };
  // A run a threshold stopped names it, when it fits the line; the
  // Problems below name it always.
  std::string why = s.interrupted ? " (interrupted)" : "";
  if (!s.aborted_key.empty()) {
    why = " (stopped by threshold " + printable(s.aborted_key) + ")";
    if (display_width("LoadPilot summary — " + printable(s.scenario) + why) > width)
      why = " (stopped by a threshold)";
  }
  fmt::print(out, "\n{}\n",
             st.bold(fmt::format("LoadPilot summary — {}{}", printable(s.scenario), why)));
  fmt::print(out, "  target      {}\n", printable(s.target));
  fmt::print(out, "  mode        {}{}   duration {:.1f}s of {:.1f}s planned\n", s.mode,
             s.model == "closed" ? " (closed model)" : "", s.duration_s, s.planned_s);
  if (s.model == "closed")
    print_wrapped(out, width, "  users       ",
                  fmt::format("{} planned, {} at most active; think time {}", s.users,
                              s.peak_active_users, s.wait));
  if (s.cut_off > 0) {
    print_wrapped(out, width, "  requests    ",
                  fmt::format("{}   errors {} of {} attempts ({:.2f}%), {} of them cut off",
                              s.requests, s.errors, s.attempts, s.error_rate, s.cut_off));
  } else if (s.attempts != s.requests) {
    print_wrapped(out, width, "  requests    ",
                  fmt::format("{}   errors {} of {} attempts ({:.2f}%)", s.requests, s.errors,
                              s.attempts, s.error_rate));
  } else {
    fmt::print(out, "  requests    {}   errors {} ({:.2f}%)\n", s.requests, s.errors, s.error_rate);
  }
  if (s.retries > 0)
    print_wrapped(
        out, width, "  retries     ",
        fmt::format("{} idempotent requests sent again on a fresh connection", s.retries));
  if (s.model == "closed") {
    print_wrapped(
        out, width, "  rate        ",
        fmt::format("{:.1f} req/s achieved (closed model: the users set the pace)", s.actual_rps));
  } else if (s.model == "mixed") {
    print_wrapped(out, width, "  rate        ",
                  fmt::format("{:.1f} req/s achieved; the open scenarios ask at most {:.1f} "
                              "iterations/s together, the closed ones' users set their own pace",
                              s.actual_rps, s.target_rps));
  } else if (s.target_rps > 0) {
    // A ramp or step profile averages below its peak: compare with both.
    const double planned_avg = s.planned_s > 0 ? s.planned_iterations / s.planned_s : 0;
    print_wrapped(out, width, "  rate        ",
                  fmt::format("{:.1f} req/s achieved; target {:.1f} iterations/s average, "
                              "{:.1f} peak",
                              s.actual_rps, planned_avg, s.target_rps));
  } else {
    fmt::print(out, "  rate        {:.1f} req/s achieved (unlimited)\n", s.actual_rps);
  }
  if (s.bytes_sent + s.bytes_received > 0) {
    using RC = metrics::ResponseClass;
    std::vector<std::string> classes;
    for (RC rc : {RC::k2xx, RC::k3xx, RC::k4xx, RC::k5xx, RC::kNone}) {
      const std::uint64_t n = s.responses[static_cast<std::size_t>(rc)];
      if (n > 0 || rc == RC::k2xx) classes.push_back(fmt::format("{} {}", metrics::name(rc), n));
    }
    print_wrapped(out, width, "  responses   ", fmt::format("{}", fmt::join(classes, "  ")));
    print_wrapped(out, width, "  protocol    ", s.protocol());
    const double secs = s.duration_s > 0 ? s.duration_s : 1;
    print_wrapped(out, width, "  data        ",
                  fmt::format("sent {} ({}/s), received {} ({}/s)", format_bytes(s.bytes_sent),
                              format_bytes(s.bytes_sent / secs), format_bytes(s.bytes_received),
                              format_bytes(s.bytes_received / secs)));
  }
  if (!s.websocket.empty()) print_wrapped(out, width, "  websocket   ", s.websocket.describe());
  if (!s.grpc_status.empty()) print_wrapped(out, width, "  grpc        ", s.grpc_status.describe());
  print_wrapped(out, width, "  iterations  ",
                fmt::format("{} started: {} finished, {} cut off; {:.1f}/s", s.started,
                            s.iterations, s.cut_off, s.iterations_rps));
  if (s.model == "mixed") {
    // The open scenarios' schedule plus what the closed ones' users made due.
    print_wrapped(out, width, "  arrivals    ",
                  fmt::format("{:.0f} planned or came due: {} started ({} late >1 ms), {} "
                              "dropped, {} not started",
                              s.planned_iterations, s.started, s.late, s.dropped, s.not_started));
  } else if (s.model == "closed") {
    // No schedule: the iterations the users made due (docs/output.md#iterations).
    print_wrapped(out, width, "  arrivals    ",
                  fmt::format("{:.0f} came due: {} started ({} late >1 ms), {} dropped",
                              s.planned_iterations, s.started, s.late, s.dropped));
    if (s.pacing_late > 0)
      print_wrapped(out, width, "  pacing      ",
                    fmt::format("{} iterations started after their pacing slot: the user's "
                                "previous iteration took longer than {}",
                                s.pacing_late, s.wait));
  } else {
    print_wrapped(out, width, "  arrivals    ",
                  fmt::format("{:.0f} planned: {} started ({} late >1 ms), {} dropped, {} not "
                              "started",
                              s.planned_iterations, s.started, s.late, s.dropped, s.not_started));
  }
  if (!s.overload.empty()) print_wrapped(out, width, "  overload    ", s.overload, red);
  // With --strict it is among the problems, printed below.
  if (!s.generator_bound.empty() &&
      std::find(s.problems.begin(), s.problems.end(), s.generator_bound) == s.problems.end())
    print_wrapped(out, width, "  warning     ", s.generator_bound, red);
  for (const std::string& w : s.warnings) print_wrapped(out, width, "  warning     ", w, red);

  const auto& l = s.latency;
  fmt::print(out, "\n{}\n", st.bold("Latency (ms, from intended start)"));
  print_figures(out, width,
                {fmt::format("min {:.2f}", l.min_ms), fmt::format("mean {:.2f}", l.mean_ms),
                 fmt::format("p50 {:.2f}", l.p50_ms), fmt::format("p90 {:.2f}", l.p90_ms),
                 fmt::format("p95 {:.2f}", l.p95_ms), fmt::format("p99 {:.2f}", l.p99_ms),
                 fmt::format("p99.9 {:.2f}", l.p999_ms), fmt::format("max {:.2f}", l.max_ms)});
  fmt::print(out, "  {}\n",
             st.dim(fmt::format("service time: p50 {:.2f}  p99 {:.2f}  max {:.2f}",
                                s.service.p50_ms, s.service.p99_ms, s.service.max_ms)));

  if (s.errors > 0) {
    fmt::print(out, "\n{}\n", st.bold("Errors"));
    std::string kinds;
    for (std::size_t k = 0; k < metrics::kErrorKindCount; ++k)
      if (s.errors_by_kind[k])
        kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", metrics::kErrorKindNames[k],
                             s.errors_by_kind[k]);
    print_wrapped(out, width, "  by kind: ", kinds);
    for (const ErrorLine& e : s.top_errors)
      print_wrapped(out, width, fmt::format("  {:>8}  {:<12} ", e.count, e.kind),
                    printable(e.message));
  }

  if (!s.scenarios.empty()) print_scenarios(out, s.scenarios, color, width);
  fmt::print(out, "\n{}\n", st.bold("Tasks"));
  print_tasks(out, width, s.tasks);

  if (!s.custom.empty()) {
    fmt::print(out, "\n{}\n", st.bold("Custom metrics"));
    for (const std::string& line : custom_metric_lines(s.custom, width))
      fmt::print(out, "  {}\n", line);
  }

  print_thresholds(out, width, s.thresholds, color);
  if (!s.problems.empty()) {
    fmt::print(out, "\n{}\n", st.bold("Problems"));
    for (const std::string& p : s.problems) {
      bool first = true;
      for (const std::string& line : wrap_words(p, width - 4, "", "")) {
        fmt::print(out, "  {} {}\n", first ? st.red("✗") : " ", line);
        first = false;
      }
    }
  }
  if (!s.knee.empty()) {
    fmt::print(out, "\n{}\n", st.bold("Knee point"));
    print_wrapped(out, width, "  ", s.knee);
  }
  fmt::print(out, "\n{}\n", s.passed ? st.green("PASSED") : st.red("FAILED"));
}

}  // namespace loadpilot::report
