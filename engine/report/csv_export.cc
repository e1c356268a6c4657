#include "report/csv_export.h"

#include <fmt/format.h>

#include <cmath>

#include "report/output_file.h"

namespace loadpilot::report {

namespace {

// The percentiles of Locust's stats file; all come from the histogram.
constexpr double kPercentiles[] = {50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100};
constexpr const char* kPercentileNames[] = {"50%", "66%", "75%",   "80%",    "90%", "95%",
                                            "98%", "99%", "99.9%", "99.99%", "100%"};

std::string field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string o = "\"";
  for (const char c : text) {
    if (c == '"') o += '"';
    o += c;
  }
  return o + "\"";
}

std::string ms(double x) { return fmt::format("{:.3f}", x); }
std::string us_as_ms(std::uint64_t us) { return ms(static_cast<double>(us) / 1000.0); }
std::string rate(double x) { return fmt::format("{:.2f}", x); }

std::string stats_row(const std::string& type, const std::string& name, std::uint64_t requests,
                      std::uint64_t failures, double seconds, const metrics::Histogram& h) {
  std::string row =
      fmt::format("{},{},{},{},{},{},{},{},{},{}", field(type), field(name), requests, failures,
                  us_as_ms(h.value_at_percentile(50)), ms(h.mean() / 1000.0), us_as_ms(h.min()),
                  us_as_ms(h.max()), rate(static_cast<double>(requests) / seconds),
                  rate(static_cast<double>(failures) / seconds));
  for (const double p : kPercentiles) row += "," + us_as_ms(h.value_at_percentile(p));
  return row + "\n";
}

}  // namespace

CsvPaths csv_paths(const std::string& prefix) {
  return {prefix + "_stats.csv", prefix + "_stats_history.csv"};
}

std::string stats_csv(const Summary& s, const plan::Plan& plan,
                      const metrics::IntervalStats& cumulative,
                      const metrics::Histogram& total_latency) {
  std::string o =
      "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
      "Min Response Time,Max Response Time,Requests/s,Failures/s";
  for (const char* p : kPercentileNames) o += fmt::format(",{}", p);
  o += "\n";
  // The summary's time base: its rates are requests per second of the time
  // iterations were started in (report/summary.h).
  const double seconds = s.requests > 0 && s.actual_rps > 0
                             ? static_cast<double>(s.requests) / s.actual_rps
                             : std::max(s.duration_s, 1e-9);
  const metrics::Histogram empty;
  for (std::size_t i = 0; i < s.tasks.size(); ++i) {
    const TaskSummary& t = s.tasks[i];
    // Type: the request method, as Locust writes it: a native task's from
    // its plan, a Python task's those its requests used ("GET/POST" when
    // several; empty when it sent none).
    std::string type = t.methods;
    for (const plan::TaskSpec& spec : plan.tasks)
      if (spec.name == t.name && spec.runtime == "native" && spec.request)
        type = spec.request->method;
    const metrics::Histogram& h = i < cumulative.tasks.size() ? cumulative.tasks[i].latency : empty;
    o += stats_row(type, t.name, t.requests, t.errors, seconds, h);
    // The task's sub-rows, named by their name=, right after it: requests
    // the task's row counts already (docs/output.md#--csv-prefix).
    for (const metrics::NamedStats& n : cumulative.named)
      if (n.task == i) o += stats_row(type, n.name, n.requests, n.errors, seconds, n.latency);
  }
  o += stats_row("", "Aggregated", s.requests, s.errors, seconds, total_latency);
  return o;
}

std::string history_csv(const TimeSeries& series) {
  std::string o =
      "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,90%,95%,99%,99.9%,100%,"
      "Total Request Count,Total Failure Count,Total Late Arrivals,Total Dropped Arrivals,"
      "Service 50%,Service 99%,Total 2xx,Total 3xx,Total 4xx,Total 5xx,Total No Response,"
      "Total Bytes Sent,Total Bytes Received\n";
  double last_t = 0;
  std::uint64_t last_errors = 0;
  for (const TimeSeries::Point& p : series.points()) {
    const double dt = p.t - last_t;
    const std::uint64_t new_errors = p.errors >= last_errors ? p.errors - last_errors : 0;
    const double failures_s = dt > 0 ? static_cast<double>(new_errors) / dt : 0;
    using RC = metrics::ResponseClass;
    const auto responses = [&p](RC c) { return p.responses[static_cast<std::size_t>(c)]; };
    o += fmt::format(
        "{},{},,Aggregated,{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        static_cast<long long>(std::floor(p.unix_s)), p.active_users, rate(p.current_rps),
        rate(failures_s), ms(p.p50_ms), ms(p.p90_ms), ms(p.p95_ms), ms(p.p99_ms), ms(p.p999_ms),
        ms(p.max_ms), p.requests, p.errors, p.late, p.dropped, ms(p.service_p50_ms),
        ms(p.service_p99_ms), responses(RC::k2xx), responses(RC::k3xx), responses(RC::k4xx),
        responses(RC::k5xx), responses(RC::kNone), p.bytes_sent, p.bytes_received);
    last_t = p.t;
    last_errors = p.errors;
  }
  return o;
}

bool write_csv(const std::string& prefix, const Summary& s, const plan::Plan& plan,
               const metrics::IntervalStats& cumulative, const metrics::Histogram& total_latency,
               const TimeSeries& series, std::string* error) {
  const CsvPaths paths = csv_paths(prefix);
  return write_file_atomically(paths.stats, stats_csv(s, plan, cumulative, total_latency), error) &&
         write_file_atomically(paths.history, history_csv(series), error);
}

}  // namespace loadpilot::report
