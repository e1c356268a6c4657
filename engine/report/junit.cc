#include "report/junit.h"

#include <fmt/format.h>
#include <unistd.h>

#include <climits>

#include "report/output_file.h"

namespace loadpilot::report {

namespace {

// Length of the valid UTF-8 sequence at text[i], or 0 when it is not one
// (overlong forms, surrogates and values past U+10FFFF are invalid).
std::size_t utf8_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0)
    n = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0)
    n = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0)
    n = 4, cp = c & 0x07;
  else
    return 0;
  if (i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  if (cp == 0xFFFE || cp == 0xFFFF) return 0;  // not XML characters
  return n;
}

std::string fixed(double x, int digits) { return fmt::format("{:.{}f}", x, digits); }

const char* unit_of(const std::string& key) { return key == "error_rate" ? "%" : " ms"; }

struct Case {
  std::string classname, name, time = "0";
  std::string failure_type, failure_message, failure_text;
  std::string skipped;  // message; empty: not skipped
  std::string out;      // system-out
};

Case make_case(std::string classname, std::string name, std::string time = "0") {
  Case c;
  c.classname = std::move(classname);
  c.name = std::move(name);
  c.time = std::move(time);
  return c;
}

std::string render_case(const Case& c) {
  std::string o = fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
                              xml_escape(c.classname), xml_escape(c.name), c.time);
  if (c.failure_type.empty() && c.skipped.empty() && c.out.empty()) return o + "/>\n";
  o += ">\n";
  if (!c.failure_type.empty())
    o += fmt::format("      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
                     xml_escape(c.failure_type), xml_escape(c.failure_message),
                     xml_escape(c.failure_text));
  else if (!c.skipped.empty())
    o += fmt::format("      <skipped message=\"{}\"/>\n", xml_escape(c.skipped));
  if (!c.out.empty()) o += fmt::format("      <system-out>{}</system-out>\n", xml_escape(c.out));
  return o + "    </testcase>\n";
}

std::string latency_text(const metrics::LatencySummary& l) {
  return fmt::format("p50_ms={} p90_ms={} p95_ms={} p99_ms={} max_ms={}", fixed(l.p50_ms, 3),
                     fixed(l.p90_ms, 3), fixed(l.p95_ms, 3), fixed(l.p99_ms, 3),
                     fixed(l.max_ms, 3));
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string o;
  o.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_length(text, i);
    if (n == 0) {
      o += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (n > 1) {
      o.append(text.substr(i, n));
      i += n;
      continue;
    }
    const char c = text[i++];
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&apos;";
        break;
      case '\t':
        o += "&#9;";
        break;
      case '\n':
        o += "&#10;";
        break;
      case '\r':
        o += "&#13;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
          o += "\xEF\xBF\xBD";
        else
          o += c;
    }
  }
  return o;
}

namespace {

// One <testsuite> for `s`, named SUITE; adds its cases and failures to
// *tests and *failures.
std::string suite_xml(const Summary& s, const std::string& suite, const std::string& hostname,
                      std::size_t* tests, std::size_t* failures_out) {
  const std::string cls = "loadpilot." + suite;
  std::vector<Case> cases;

  Case run = make_case(cls, "run", fixed(s.duration_s, 3));
  run.out = fmt::format(
      "target={} mode={} requests={} errors={} error_rate={}% rps={} iterations_started={} "
      "dropped={} cut_off={} {}",
      s.target, s.mode, s.requests, s.errors, fixed(s.error_rate, 3), fixed(s.actual_rps, 2),
      s.started, s.dropped, s.cut_off, latency_text(s.latency));
  if (!s.problems.empty()) {
    run.failure_type = "problem";
    run.failure_message =
        s.problems.size() == 1
            ? s.problems.front()
            : fmt::format("{} problems; first: {}", s.problems.size(), s.problems.front());
    for (const std::string& p : s.problems) run.failure_text += p + "\n";
  }
  cases.push_back(std::move(run));

  const metrics::ThresholdResult* error_limit = nullptr;
  for (const metrics::ThresholdResult& r : s.thresholds) {
    if (r.key == "error_rate" && r.over_s == 0) error_limit = &r;
    // Named by its key and window ("checkout.p99_ms over 60s"); the task
    // and the worst window are in its output and message.
    Case c = make_case(cls + ".thresholds", r.label());
    const char* unit = unit_of(r.metric.empty() ? r.key : r.metric);
    std::string where;
    if (!r.task.empty()) where += fmt::format(" task={}", r.task);
    if (r.over_s > 0)
      where += fmt::format(" window={:g}s worst={}-{}s", r.over_s, fixed(r.window_start_s, 1),
                           fixed(r.window_end_s, 1));
    c.out = fmt::format("actual {}{} limit {}{}{}", fixed(r.actual, 3), unit, r.limit, unit, where);
    if (!r.passed) {
      c.failure_type = "threshold";
      std::string in;
      if (!r.task.empty()) in += fmt::format(" (task {})", r.task);
      if (r.over_s > 0)
        in += fmt::format(" in its worst {:g} s window, {}-{} s", r.over_s,
                          fixed(r.window_start_s, 1), fixed(r.window_end_s, 1));
      c.failure_message = fmt::format("{}{}: actual {}{} is above the limit {}{}", r.key, in,
                                      fixed(r.actual, 3), unit, r.limit, unit);
      if (r.aborted)
        c.failure_message += fmt::format("; it broke at {} s and stopped the run at {} s",
                                         fixed(r.broken_at_s, 1), fixed(r.aborted_at_s, 1));
      c.failure_text = c.failure_message;
    }
    cases.push_back(std::move(c));
  }

  for (const TaskSummary& t : s.tasks) {
    Case c = make_case(cls + ".tasks", t.name);
    c.out = fmt::format("requests={} errors={} error_rate={}% iterations={} rps={} {}", t.requests,
                        t.errors, fixed(t.error_rate, 3), t.iterations, fixed(t.rps, 2),
                        latency_text(t.latency));
    if (t.requests == 0 && t.errors == 0) {
      c.skipped = "no attempts: the task never sent a request or failed";
    } else if (error_limit && t.error_rate > error_limit->limit) {
      c.failure_type = "error_rate";
      c.failure_message = fmt::format(
          "{}: error rate {}% is above the error_rate limit {}% ({} errors, {} requests)", t.name,
          fixed(t.error_rate, 3), error_limit->limit, t.errors, t.requests);
    } else if (!error_limit && t.errors > 0 && t.error_rate >= 100) {
      c.failure_type = "error_rate";
      c.failure_message = fmt::format("{}: every attempt failed ({} errors)", t.name, t.errors);
    }
    if (!c.failure_type.empty()) c.failure_text = c.failure_message;
    cases.push_back(std::move(c));
  }

  std::size_t failures = 0, skipped = 0;
  for (const Case& c : cases) {
    failures += !c.failure_type.empty();
    skipped += !c.skipped.empty();
  }
  // Ant's schema wants a timestamp without a zone: the run's start, in UTC.
  std::string timestamp = s.started_at;
  if (!timestamp.empty() && timestamp.back() == 'Z') timestamp.pop_back();
  if (timestamp.empty()) timestamp = "1970-01-01T00:00:00";

  *tests += cases.size();
  *failures_out += failures;
  std::string o = fmt::format(
      "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" "
      "time=\"{}\" timestamp=\"{}\" hostname=\"{}\">\n",
      xml_escape(suite), cases.size(), failures, skipped, fixed(s.duration_s, 3), timestamp,
      xml_escape(hostname.empty() ? "localhost" : hostname));
  o += "    <properties>\n";
  const auto property = [&](const char* name, const std::string& value) {
    o += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", name, xml_escape(value));
  };
  property("file", s.file);
  property("target", s.target);
  property("mode", s.mode);
  property("model", s.model);
  if (s.model == "closed") {
    property("users", std::to_string(s.users));
    property("peak_active_users", std::to_string(s.peak_active_users));
    property("wait", s.wait);
  }
  property("passed", s.passed ? "true" : "false");
  property("interrupted", s.interrupted ? "true" : "false");
  property("requests", std::to_string(s.requests));
  property("errors", std::to_string(s.errors));
  property("error_rate", fixed(s.error_rate, 3));
  property("rps", fixed(s.actual_rps, 2));
  property("p99_ms", fixed(s.latency.p99_ms, 3));
  o += "    </properties>\n";
  for (const Case& c : cases) o += render_case(c);
  o += "  </testsuite>\n";
  return o;
}

}  // namespace

std::string junit_xml(const Summary& s, const std::string& hostname) {
  std::size_t tests = 0, failures = 0;
  std::string suites =
      suite_xml(s, s.scenario.empty() ? "run" : s.scenario, hostname, &tests, &failures);
  // A run of several scenarios: then one suite per scenario, its cases
  // judged on its own numbers and thresholds (its duration is the run's).
  for (const Summary& part : s.scenarios) {
    Summary shown = part;
    shown.duration_s = s.duration_s;
    shown.started_at = s.started_at;
    shown.file = s.file;
    shown.target = s.target;
    suites += suite_xml(shown, s.scenario + "." + part.scenario, hostname, &tests, &failures);
  }
  std::string o = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += fmt::format(
      "<testsuites name=\"loadpilot\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{}\">\n",
      tests, failures, fixed(s.duration_s, 3));
  o += suites;
  o += "</testsuites>\n";
  return o;
}

bool write_junit(const std::string& path, const Summary& s, std::string* error) {
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return write_file_atomically(path, junit_xml(s, host), error);
}

}  // namespace loadpilot::report
