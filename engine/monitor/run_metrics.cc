#include "monitor/run_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <utility>

namespace loadpilot::monitor {

namespace {

constexpr std::array<double, 16> kBucketsS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,   0.5,   1,      2.5,   5,    10,    30,   60};

prometheus::Gauge& gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

prometheus::Counter& counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

// Counters only go up: add what the cumulative count gained since last time.
void advance(prometheus::Counter& c, std::uint64_t now, std::uint64_t& seen) {
  if (now > seen) c.Increment(static_cast<double>(now - seen));
  seen = std::max(seen, now);
}

}  // namespace

std::span<const double> latency_buckets_s() { return kBucketsS; }

std::vector<double> bucket_increments(const metrics::Histogram& h, std::span<const double> bounds_s,
                                      double* sum_s) {
  std::vector<double> out(bounds_s.size() + 1, 0.0);
  if (sum_s != nullptr) *sum_s = 0;
  if (h.empty()) return out;
  std::vector<std::uint64_t> bounds_us;
  for (double b : bounds_s) bounds_us.push_back(static_cast<std::uint64_t>(std::llround(b * 1e6)));
  if (sum_s != nullptr) *sum_s = static_cast<double>(h.sum()) / 1e6;
  std::size_t b = 0;
  h.for_each_bucket([&](std::uint64_t v, std::uint64_t count) {
    while (b < bounds_us.size() && bounds_us[b] < v) ++b;
    out[b] += static_cast<double>(count);
  });
  return out;
}

struct RunMetrics::Task {
  prometheus::Counter* requests;
  prometheus::Counter* errors;
  prometheus::Counter* attempts;
  prometheus::Gauge* p50;
  prometheus::Gauge* p99;
  prometheus::Gauge* mean;
  prometheus::Histogram* duration;
  std::uint64_t requests_seen = 0, errors_seen = 0, attempts_seen = 0;
};

// The exposition lists the families of each type in the order they were
// registered, so the parts below run in this order: the run's totals, the
// generator's health, the breakdowns, the per-task series, then
// loadpilot_info and loadpilot_phase.
RunMetrics::RunMetrics(const RunInfo& info) : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  add_run_series(r);
  add_generator_series(r);
  add_breakdown_series(r);
  add_task_series(r, info);
  add_info_series(r, info);
  target_rps_->Set(info.target_rps);
  set_phase(info.phase);
}

// The run's rates, users, window latencies and cumulative counters.
void RunMetrics::add_run_series(prometheus::Registry& r) {
  current_rps_ = &gauge(r, "loadpilot_current_rps",
                        "Observed request rate: requests completed in the last second");
  target_rps_ = &gauge(r, "loadpilot_target_rps",
                       "Configured target rate right now (iterations/s, follows the profile)");
  active_ = &gauge(r, "loadpilot_active_workers", "Active VUsers (iterations in flight)");
  active_users_ = &gauge(r, "loadpilot_active_users",
                         "Users present: closed model, users looping (in an iteration or "
                         "thinking); open model, iterations in flight");
  target_users_ = &gauge(r, "loadpilot_target_users",
                         "Closed model: users the profile wants now (0 in an open model)");
  p50_ = &gauge(r, "loadpilot_latency_p50_ms", "p50 request latency over the last 10 s, ms");
  p95_ = &gauge(r, "loadpilot_latency_p95_ms", "p95 request latency over the last 10 s, ms");
  p99_ = &gauge(r, "loadpilot_latency_p99_ms", "p99 request latency over the last 10 s, ms");
  max_ = &gauge(r, "loadpilot_latency_max_ms", "Maximum request latency over the last 10 s, ms");
  mean_ = &gauge(r, "loadpilot_latency_mean_ms", "Mean request latency over the last 10 s, ms");
  elapsed_ = &gauge(r, "loadpilot_elapsed_secs", "Seconds since the run's profile started");
  requests_ = &counter(r, "loadpilot_requests_total", "Requests finished since the run started");
  errors_ = &counter(r, "loadpilot_errors_total", "Failed requests and iterations, all kinds");
  attempts_ = &counter(r, "loadpilot_attempts_total",
                       "Requests plus iterations that failed outside a request: the error "
                       "rate's denominator");
  started_ = &counter(r, "loadpilot_iterations_started_total", "Iterations started");
  dropped_ = &counter(r, "loadpilot_dropped_total",
                      "Arrivals that could not start (connections or VUsers all busy)");
  cut_off_ = &counter(r, "loadpilot_cut_off_total",
                      "Iterations still running when the run ended (not finished)");
}

// loadpilot_generator_*: the generator's health, last second, and its stall
// time, whole run.
void RunMetrics::add_generator_series(prometheus::Registry& r) {
  for (const auto& [name, help] : std::initializer_list<std::pair<const char*, const char*>>{
           {"loadpilot_generator_lag_max_seconds",
            "Worst lateness of a worker's event-loop probe in the last second, s"},
           {"loadpilot_generator_cpu_ratio",
            "The process's CPU use per usable core in the last second, 0..1"},
           {"loadpilot_generator_steal_ratio", "The machine's steal time in the last second, 0..1"},
           {"loadpilot_generator_busy_ratio",
            "The busiest engine thread's CPU use in the last second, 0..1"},
           {"loadpilot_generator_python_cpu_ratio",
            "The Python thread's CPU use in the last second, 0..1"},
           {"loadpilot_generator_python_held_ratio",
            "Share of the last second the Python thread spent away from its event loop, 0..1"},
           {"loadpilot_generator_cpu_wait_ratio",
            "Share of the last second an engine thread waited for a CPU (runnable, on a run "
            "queue), the longest, 0..1"},
           {"loadpilot_generator_connections_busy",
            "Native connections with a request in flight or queued for"},
           {"loadpilot_generator_connections_open", "Open connections"},
           {"loadpilot_generator_send_queue",
            "Arrivals waiting for a free connection at the end of the last second"}})
    generator_.push_back(&gauge(r, name, help));
  stall_ = &counter(r, "loadpilot_generator_stall_seconds_total",
                    "Event-loop lateness beyond 2 ms of the most stalled worker, summed, s");
  // loadpilot_websocket_* (docs/protocols.md#websocket), registered here to
  // keep the exposition's order.
  websocket_ = std::make_unique<WebSocketMetrics>(r);
  // loadpilot_custom_* (docs/monitoring.md#custom-metrics).
  custom_ = std::make_unique<CustomSeries>(r);
}

// Errors by kind, bytes each way, and responses by status class.
void RunMetrics::add_breakdown_series(prometheus::Registry& r) {
  auto& kinds = prometheus::BuildCounter()
                    .Name("loadpilot_errors_by_kind_total")
                    .Help("Failed requests and iterations by error kind")
                    .Register(r);
  for (std::string_view k : metrics::kErrorKindNames)
    errors_by_kind_.push_back(&kinds.Add({{"kind", std::string(k)}}));

  bytes_sent_ = &counter(r, "loadpilot_bytes_sent_total",
                         "HTTP bytes written for requests, every attempt (TLS framing excluded)");
  bytes_received_ = &counter(r, "loadpilot_bytes_received_total",
                             "HTTP bytes read for responses (TLS framing excluded)");
  auto& responses = prometheus::BuildCounter()
                        .Name("loadpilot_responses_total")
                        .Help(
                            "Requests by final status class (2xx..5xx), or none without a "
                            "complete response")
                        .Register(r);
  for (std::size_t c = 0; c < metrics::kResponseClassCount; ++c) {
    responses_.push_back(&responses.Add(
        {{"class", std::string(metrics::name(static_cast<metrics::ResponseClass>(c)))}}));
  }
}

// One labelled series per task in every task family, all from the start.
void RunMetrics::add_task_series(prometheus::Registry& r, const RunInfo& info) {
  auto& task_requests = prometheus::BuildCounter()
                            .Name("loadpilot_task_requests_total")
                            .Help("Requests finished for this task")
                            .Register(r);
  auto& task_errors = prometheus::BuildCounter()
                          .Name("loadpilot_task_errors_total")
                          .Help("Failed requests and iterations for this task")
                          .Register(r);
  auto& task_attempts = prometheus::BuildCounter()
                            .Name("loadpilot_task_attempts_total")
                            .Help("Requests plus iterations failed outside a request, this task")
                            .Register(r);
  auto& task_p50 = prometheus::BuildGauge()
                       .Name("loadpilot_task_latency_p50_ms")
                       .Help("p50 request latency of this task over the last 10 s, ms")
                       .Register(r);
  auto& task_p99 = prometheus::BuildGauge()
                       .Name("loadpilot_task_latency_p99_ms")
                       .Help("p99 request latency of this task over the last 10 s, ms")
                       .Register(r);
  auto& task_mean = prometheus::BuildGauge()
                        .Name("loadpilot_task_latency_mean_ms")
                        .Help("Mean request latency of this task over the last 10 s, ms")
                        .Register(r);
  auto& duration = prometheus::BuildHistogram()
                       .Name("loadpilot_request_duration_seconds")
                       .Help("Request latency from the intended start, seconds")
                       .Register(r);
  const prometheus::Histogram::BucketBoundaries bounds(kBucketsS.begin(), kBucketsS.end());
  for (std::size_t i = 0; i < info.tasks.size(); ++i) {
    const std::string& name = info.tasks[i];
    prometheus::Labels l{{"task", name}};
    if (i < info.task_scenarios.size()) {
      const std::string& scenario = info.task_scenarios[i];
      l["scenario"] = scenario;
      if (name.starts_with(scenario + ".")) l["task"] = name.substr(scenario.size() + 1);
    }
    auto t = std::make_unique<Task>();
    t->requests = &task_requests.Add(l);
    t->errors = &task_errors.Add(l);
    t->attempts = &task_attempts.Add(l);
    t->p50 = &task_p50.Add(l);
    t->p99 = &task_p99.Add(l);
    t->mean = &task_mean.Add(l);
    t->duration = &duration.Add(l, bounds);
    tasks_.push_back(std::move(t));
  }
}

// loadpilot_info (what is being run) and the family of loadpilot_phase.
void RunMetrics::add_info_series(prometheus::Registry& r, const RunInfo& info) {
  prometheus::BuildGauge()
      .Name("loadpilot_info")
      .Help("The run being served: scenario name, LoadPilot version and model (always 1)")
      .Register(r)
      .Add({{"scenario", info.scenario}, {"version", info.version}, {"model", info.model}})
      .Set(1);
  phase_family_ = &prometheus::BuildGauge()
                       .Name("loadpilot_phase")
                       .Help("1 for the profile phase the run is in, 0 for phases left behind")
                       .Register(r);
}

RunMetrics::~RunMetrics() = default;

void RunMetrics::update(const metrics::Snapshot& s, const metrics::IntervalStats& round) {
  current_rps_->Set(s.current_rps);
  target_rps_->Set(s.target_rps);
  active_->Set(static_cast<double>(s.active));
  active_users_->Set(static_cast<double>(s.active_users));
  target_users_->Set(static_cast<double>(s.target_users));
  p50_->Set(s.window.p50_ms);
  p95_->Set(s.window.p95_ms);
  p99_->Set(s.window.p99_ms);
  max_->Set(s.window.max_ms);
  mean_->Set(s.window.mean_ms);
  elapsed_->Set(s.elapsed_s);
  websocket_->update(round.websocket);
  custom_->update(s.custom);
  advance(*requests_, s.requests, requests_seen_);
  advance(*errors_, s.errors, errors_seen_);
  advance(*attempts_, s.attempts, attempts_seen_);
  advance(*started_, s.started, started_seen_);
  advance(*dropped_, s.dropped, dropped_seen_);
  advance(*cut_off_, s.cut_off, cut_off_seen_);
  {
    const metrics::GeneratorHealth& g = s.generator;
    const double values[] = {g.lag_max_ms / 1000.0,
                             g.cpu,
                             g.steal,
                             g.busy,
                             g.python_cpu,
                             g.python_held,
                             g.cpu_wait,
                             static_cast<double>(g.connections_busy),
                             static_cast<double>(g.connections_open),
                             static_cast<double>(g.send_queue)};
    for (std::size_t i = 0; i < generator_.size(); ++i) generator_[i]->Set(values[i]);
    if (g.stall_ms > 0) stall_->Increment(g.stall_ms / 1000.0);
  }
  for (std::size_t k = 0; k < metrics::kErrorKindCount; ++k)
    advance(*errors_by_kind_[k], s.errors_by_kind[k], kinds_seen_[k]);
  advance(*bytes_sent_, s.bytes_sent, bytes_sent_seen_);
  advance(*bytes_received_, s.bytes_received, bytes_received_seen_);
  for (std::size_t c = 0; c < metrics::kResponseClassCount; ++c)
    advance(*responses_[c], s.responses[c], responses_seen_[c]);
  const std::span<const double> bounds = latency_buckets_s();
  for (std::size_t i = 0; i < tasks_.size() && i < s.tasks.size(); ++i) {
    Task& t = *tasks_[i];
    const metrics::TaskSnapshot& ts = s.tasks[i];
    advance(*t.requests, ts.requests, t.requests_seen);
    advance(*t.errors, ts.errors, t.errors_seen);
    advance(*t.attempts, ts.attempts, t.attempts_seen);
    t.p50->Set(ts.window.p50_ms);
    t.p99->Set(ts.window.p99_ms);
    t.mean->Set(ts.window.mean_ms);
    if (i < round.tasks.size() && !round.tasks[i].latency.empty()) {
      double sum_s = 0;
      const auto increments = bucket_increments(round.tasks[i].latency, bounds, &sum_s);
      t.duration->ObserveMultiple(increments, sum_s);
    }
  }
  if (!s.phase.empty()) set_phase(s.phase);
}

std::string phase_label(std::string_view phase) {
  std::string out;
  for (std::size_t i = 0; i < phase.size(); ++i) {
    const char c = phase[i];
    if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out += c;
    } else if (c == '/') {
      out += "_of_";
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

void RunMetrics::set_phase(const std::string& phase) {
  if (phase.empty()) return;
  const std::string label = phase_label(phase);
  auto it = phases_.find(label);
  if (it == phases_.end())
    it = phases_.emplace(label, &phase_family_->Add({{"phase", label}})).first;
  for (auto& [name, g] : phases_) g->Set(name == label ? 1 : 0);
}

std::string RunMetrics::text() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace loadpilot::monitor
