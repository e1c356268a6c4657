#include "report/step_summary.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace loadpilot::report {

namespace {

std::string ms(double x) { return fmt::format("{:.2f} ms", x); }

}  // namespace

std::string markdown_cell(std::string_view text) {
  std::string o;
  for (const char c : text) {
    switch (c) {
      case '|':
        o += "\\|";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '\n':
      case '\r':
        o += ' ';
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string step_summary_markdown(const Summary& s) {
  std::string o = fmt::format("### LoadPilot: {} — {}\n\n", markdown_cell(s.scenario),
                              s.passed ? "✅ PASSED" : "❌ FAILED");
  o += "| | |\n|---|---|\n";
  o += fmt::format("| target | `{}` |\n", markdown_cell(s.target));
  o += fmt::format("| profile | {}{}, {:.1f} s of {:.1f} s{} |\n", markdown_cell(s.mode),
                   s.model == "closed" ? " (closed model)" : "", s.duration_s, s.planned_s,
                   s.interrupted ? " (interrupted)" : "");
  if (s.model == "closed") {
    o += fmt::format("| users | {} planned, {} at most active; think time {} |\n", s.users,
                     s.peak_active_users, markdown_cell(s.wait));
    o += fmt::format("| rate | {:.1f} req/s (the users set the pace) |\n", s.actual_rps);
  } else if (s.target_rps > 0) {
    o += fmt::format("| rate | {:.1f} req/s (target {:g}) |\n", s.actual_rps, s.target_rps);
  } else {
    o += fmt::format("| rate | {:.1f} req/s |\n", s.actual_rps);
  }
  o += fmt::format("| requests | {} |\n", s.requests);
  o += fmt::format("| errors | {} ({:.2f}%) |\n", s.errors, s.error_rate);
  o += fmt::format("| latency | p50 {} · p95 {} · p99 {} · max {} |\n", ms(s.latency.p50_ms),
                   ms(s.latency.p95_ms), ms(s.latency.p99_ms), ms(s.latency.max_ms));
  o += fmt::format("| iterations | {} started, {} finished, {} dropped, {} cut off |\n", s.started,
                   s.iterations, s.dropped, s.cut_off);

  if (!s.scenarios.empty()) {
    // A run of several: one row per scenario, judged on its own.
    o += "\n#### Scenarios\n\n| | scenario | model | requests | errors | p99 | started | dropped "
         "| not started | cut off |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const Summary& part : s.scenarios)
      o += fmt::format("| {} | {} | {} | {} | {} ({:.2f}%) | {} | {} | {} | {} | {} |\n",
                       part.passed ? "✅" : "❌", markdown_cell(part.scenario), part.model,
                       part.requests, part.errors, part.error_rate, ms(part.latency.p99_ms),
                       part.started, part.dropped, part.not_started, part.cut_off);
  }
  if (!s.thresholds.empty()) {
    o += "\n#### Thresholds\n\n| | threshold | task | window | actual | limit |\n"
         "|---|---|---|---|---:|---:|\n";
    for (const metrics::ThresholdResult& r : s.thresholds) {
      const char* unit = (r.metric.empty() ? r.key : r.metric) == "error_rate" ? "%" : " ms";
      // The worst window, when judged over windows; "whole run" otherwise.
      std::string window = "whole run";
      if (r.over_s > 0)
        window = fmt::format("{:g} s, worst {:.0f}–{:.0f} s", r.over_s, r.window_start_s,
                             r.window_end_s);
      if (r.aborted) window += fmt::format("; stopped the run at {:.1f} s", r.aborted_at_s);
      o += fmt::format("| {} | {} | {} | {} | {:.2f}{} | {:g}{} |\n", r.passed ? "✅" : "❌",
                       markdown_cell(r.key), r.task.empty() ? "(run)" : markdown_cell(r.task),
                       window, r.actual, unit, r.limit, unit);
    }
  }
  if (!s.tasks.empty()) {
    o += "\n#### Tasks\n\n| task | requests | errors | req/s | p50 | p99 |\n"
         "|---|---:|---:|---:|---:|---:|\n";
    for (const TaskSummary& t : s.tasks)
      o += fmt::format("| {} | {} | {} ({:.2f}%) | {:.1f} | {} | {} |\n", markdown_cell(t.name),
                       t.requests, t.errors, t.error_rate, t.rps, ms(t.latency.p50_ms),
                       ms(t.latency.p99_ms));
  }
  if (!s.problems.empty()) {
    o += "\n#### Problems\n\n";
    for (const std::string& p : s.problems) o += fmt::format("- {}\n", markdown_cell(p));
  }
  return o + "\n";
}

bool append_step_summary(const std::string& path, std::string_view text, std::string* error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  const auto fail = [&](int err) {
    *error = fmt::format("cannot append to {}: {}", path, std::strerror(err));
    return false;
  };
  if (fd < 0) return fail(errno);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return fail(err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return fail(errno);
  return true;
}

}  // namespace loadpilot::report
