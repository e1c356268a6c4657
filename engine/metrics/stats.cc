#include "metrics/stats.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <stdexcept>

namespace loadpilot::metrics {

namespace {
constexpr std::string_view kOtherMessages = "(other messages)";
}  // namespace

void TaskStats::merge(const TaskStats& other) {
  requests += other.requests;
  errors += other.errors;
  iteration_errors += other.iteration_errors;
  iterations += other.iterations;
  wire_iterations += other.wire_iterations;
  wire_known = wire_known && other.wire_known;
  for (std::size_t k = 0; k < kErrorKindCount; ++k) errors_by_kind[k] += other.errors_by_kind[k];
  latency.merge(other.latency);
  service.merge(other.service);
  iteration.merge(other.iteration);
  methods |= other.methods;
}

std::uint32_t method_bit(std::string_view method) {
  constexpr std::size_t n = std::size(kMethodNames);
  for (std::size_t i = 0; i + 1 < n; ++i)
    if (method == kMethodNames[i]) return 1u << i;
  return 1u << (n - 1);
}

std::string method_names(std::uint32_t bits) {
  std::string out;
  for (std::size_t i = 0; i < std::size(kMethodNames); ++i) {
    if (!(bits & (1u << i))) continue;
    if (!out.empty()) out += '/';
    out += kMethodNames[i];
  }
  return out;
}

void NamedStats::merge(const NamedStats& other) {
  requests += other.requests;
  errors += other.errors;
  latency.merge(other.latency);
}

// The overflow bucket is per kind so per-kind totals stay exact; it may take
// the map up to kMaxDistinct + kErrorKindCount entries.
void ErrorMessages::add(ErrorKind kind, std::string_view message, double at_s,
                        std::uint64_t count) {
  auto key = std::make_pair(kind, std::string(message));
  auto it = entries.find(key);
  if (it == entries.end()) {
    if (entries.size() >= kMaxDistinct) key.second = kOtherMessages;
    it = entries.try_emplace(std::move(key), Entry{0, at_s}).first;
  }
  it->second.count += count;
  it->second.first_seen_s = std::min(it->second.first_seen_s, at_s);
}

void ErrorMessages::merge(const ErrorMessages& other) {
  for (const auto& [key, entry] : other.entries)
    add(key.first, key.second, entry.first_seen_s, entry.count);
}

std::vector<std::pair<std::pair<ErrorKind, std::string>, ErrorMessages::Entry>> ErrorMessages::top(
    std::size_t n) const {
  std::vector<std::pair<std::pair<ErrorKind, std::string>, Entry>> out(entries.begin(),
                                                                       entries.end());
  // The map is already ordered by (kind, message), so a stable sort by count
  // gives the documented tie order.
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second.count > b.second.count; });
  if (out.size() > n) out.resize(n);
  return out;
}

std::string_view name(ResponseClass c) {
  switch (c) {
    case ResponseClass::kNone:
      return "none";
    case ResponseClass::k2xx:
      return "2xx";
    case ResponseClass::k3xx:
      return "3xx";
    case ResponseClass::k4xx:
      return "4xx";
    case ResponseClass::k5xx:
      return "5xx";
  }
  return "none";
}

nlohmann::json responses_json(const std::array<std::uint64_t, kResponseClassCount>& counts) {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t c = 0; c < kResponseClassCount; ++c)
    j[std::string(name(static_cast<ResponseClass>(c)))] = counts[c];
  return j;
}

void IntervalStats::merge(const IntervalStats& other) {
  if (tasks.size() < other.tasks.size()) tasks.resize(other.tasks.size());
  for (std::size_t t = 0; t < other.tasks.size(); ++t) tasks[t].merge(other.tasks[t]);
  for (const NamedStats& n : other.named) named[named_row(n.task, n.name)].merge(n);
  messages.merge(other.messages);
  iterations_started += other.iterations_started;
  dropped += other.dropped;
  dropped_no_vuser += other.dropped_no_vuser;
  late += other.late;
  pacing_late += other.pacing_late;
  cut_off += other.cut_off;
  retries += other.retries;
  websocket.merge(other.websocket);
  grpc_status.merge(other.grpc_status);
  custom.merge(other.custom);
  for (std::size_t c = 0; c < kResponseClassCount; ++c) responses[c] += other.responses[c];
  bytes_sent += other.bytes_sent;
  http2_responses += other.http2_responses;
  bytes_received += other.bytes_received;
  busy = std::max(busy, other.busy);
  if (other.lag_max_ms > lag_max_ms) {
    lag_max_ms = other.lag_max_ms;
    lag_at_s = other.lag_at_s;
  }
  stall_ms = std::max(stall_ms, other.stall_ms);
  cpu = std::max(cpu, other.cpu);
  steal = std::max(steal, other.steal);
  python_cpu = std::max(python_cpu, other.python_cpu);
  python_held = std::max(python_held, other.python_held);
  cpu_wait = std::max(cpu_wait, other.cpu_wait);
  last_start_s = std::max(last_start_s, other.last_start_s);
}

std::size_t IntervalStats::named_row(std::size_t task, std::string_view name) {
  for (std::size_t i = 0; i < named.size(); ++i)
    if (named[i].task == task && named[i].name == name) return i;
  NamedStats n;
  n.task = static_cast<std::uint32_t>(task);
  n.name = std::string(name);
  named.push_back(std::move(n));
  return named.size() - 1;
}

void Recorder::record_request(std::size_t task, std::uint64_t latency_us, std::uint64_t service_us,
                              const ErrorKind* error, std::string_view message, double now_s,
                              std::size_t named) {
  assert(task < current_.tasks.size());
  TaskStats& t = current_.tasks[task];
  ++t.requests;
  t.latency.record(latency_us);
  t.service.record(service_us);
  if (error != nullptr) [[unlikely]] {
    ++t.errors;
    ++t.errors_by_kind[static_cast<std::size_t>(*error)];
    current_.messages.add(*error, message, now_s);
  }
  if (named != kNotNamed) {
    assert(named < current_.named.size() && current_.named[named].task == task);
    NamedStats& n = current_.named[named];
    ++n.requests;
    n.latency.record(latency_us);
    if (error != nullptr) ++n.errors;
  }
}

void Recorder::record_iteration(std::size_t task, std::uint64_t duration_us, bool reached_wire) {
  assert(task < current_.tasks.size());
  TaskStats& t = current_.tasks[task];
  ++t.iterations;
  if (reached_wire) ++t.wire_iterations;
  t.iteration.record(duration_us);
}

void Recorder::record_iteration_error(std::size_t task, ErrorKind kind, std::string_view message,
                                      double now_s) {
  assert(task < current_.tasks.size());
  TaskStats& t = current_.tasks[task];
  ++t.errors;
  ++t.iteration_errors;
  ++t.errors_by_kind[static_cast<std::size_t>(kind)];
  current_.messages.add(kind, message, now_s);
}

IntervalStats Recorder::take() {
  IntervalStats out(std::move(current_));
  current_ = IntervalStats(out.tasks.size());
  current_.named.reserve(out.named.size());
  for (const NamedStats& n : out.named) {
    NamedStats fresh;
    fresh.task = n.task;
    fresh.name = n.name;
    current_.named.push_back(std::move(fresh));
  }
  return out;
}

namespace {

std::uint64_t u64_field(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned())
    throw std::invalid_argument(where + "\"" + key + "\" must be a non-negative integer");
  return it->get<std::uint64_t>();
}

const nlohmann::json& array_field(const nlohmann::json& j, const char* key,
                                  const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array())
    throw std::invalid_argument(where + "\"" + key + "\" must be an array");
  return *it;
}

// The parts of IntervalStats::from_json, each checking its own fields and
// naming the offending one (with its path) in the error it throws.

// A top-level number that must be present and non-negative.
double non_negative_number(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number() || !(it->get<double>() >= 0))
    throw std::invalid_argument(std::string("stats: \"") + key +
                                "\" must be a non-negative number");
  return it->get<double>();
}

// The run's counters: iterations started, dropped, late, cut off, retries,
// and the responses by class with their bytes.
void read_counters(const nlohmann::json& j, IntervalStats* s) {
  s->iterations_started = u64_field(j, "started", "stats: ");
  s->dropped = u64_field(j, "dropped", "stats: ");
  s->dropped_no_vuser = u64_field(j, "dropped_no_vuser", "stats: ");
  s->late = u64_field(j, "late", "stats: ");
  // Absent from an agent of an older version: none.
  if (j.contains("pacing_late")) s->pacing_late = u64_field(j, "pacing_late", "stats: ");
  s->cut_off = u64_field(j, "cut_off", "stats: ");
  s->retries = u64_field(j, "retries", "stats: ");
  // Absent from an agent of an older version: none counted.
  if (!j.contains("responses")) return;
  const nlohmann::json& rs = array_field(j, "responses", "stats: ");
  if (rs.size() != kResponseClassCount)
    throw std::invalid_argument("stats: \"responses\" must have " +
                                std::to_string(kResponseClassCount) + " entries");
  for (std::size_t c = 0; c < kResponseClassCount; ++c) {
    if (!rs[c].is_number_unsigned())
      throw std::invalid_argument("stats: \"responses\" must hold non-negative integers");
    s->responses[c] = rs[c].get<std::uint64_t>();
  }
  s->bytes_sent = u64_field(j, "bytes_sent", "stats: ");
  s->bytes_received = u64_field(j, "bytes_received", "stats: ");
}

// The generator's health ("generator"); optional, as a process of an older
// version sends none, and so is each of its fields.
void read_generator(const nlohmann::json& j, IntervalStats* s) {
  const auto g = j.find("generator");
  if (g == j.end()) return;
  if (!g->is_object()) throw std::invalid_argument("stats: \"generator\" must be an object");
  for (auto [name, field] : {std::pair{"lag_max_ms", &s->lag_max_ms},
                             {"lag_at_s", &s->lag_at_s},
                             {"stall_ms", &s->stall_ms},
                             {"cpu", &s->cpu},
                             {"steal", &s->steal},
                             {"python_cpu", &s->python_cpu},
                             {"python_held", &s->python_held},
                             {"cpu_wait", &s->cpu_wait}}) {
    const auto it = g->find(name);
    if (it == g->end()) continue;
    if (!it->is_number() || !(it->get<double>() >= 0) || !std::isfinite(it->get<double>()))
      throw std::invalid_argument(std::string("stats: \"generator.") + name +
                                  "\" must be a non-negative number");
    *field = it->get<double>();
  }
}

// The histogram under `key` of a task or named row; `where` prefixes errors.
Histogram histogram_field(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end()) throw std::invalid_argument(where + "\"" + key + "\" is missing");
  try {
    return Histogram::from_json(*it);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(where + key + ": " + e.what());
  }
}

// One entry of "tasks".
TaskStats task_from_json(const nlohmann::json& t, const std::string& where) {
  if (!t.is_object()) throw std::invalid_argument(where + " expected an object");
  TaskStats task;
  task.requests = u64_field(t, "requests", where);
  task.errors = u64_field(t, "errors", where);
  task.iteration_errors = u64_field(t, "iteration_errors", where);
  task.iterations = u64_field(t, "iterations", where);
  // Absent from an agent of an older version: no methods known.
  if (t.contains("methods")) {
    const std::uint64_t bits = u64_field(t, "methods", where);
    if (bits >> std::size(kMethodNames))
      throw std::invalid_argument(where + "\"methods\" has unknown bits");
    task.methods = static_cast<std::uint32_t>(bits);
  }
  // Absent from an agent of an older version: not known, not checked.
  if (t.contains("wire_iterations"))
    task.wire_iterations = u64_field(t, "wire_iterations", where);
  else
    task.wire_known = false;
  const nlohmann::json& kinds = array_field(t, "by_kind", where);
  if (kinds.size() != kErrorKindCount)
    throw std::invalid_argument(where + "\"by_kind\" must have " + std::to_string(kErrorKindCount) +
                                " entries");
  for (std::size_t k = 0; k < kErrorKindCount; ++k) {
    if (!kinds[k].is_number_unsigned())
      throw std::invalid_argument(where + "\"by_kind\" must hold non-negative integers");
    task.errors_by_kind[k] = kinds[k].get<std::uint64_t>();
  }
  task.latency = histogram_field(t, "latency", where);
  task.service = histogram_field(t, "service", where);
  task.iteration = histogram_field(t, "iteration", where);
  return task;
}

// One entry of "named"; its "task" must index the `tasks` rows already read.
NamedStats named_from_json(const nlohmann::json& n, std::size_t tasks, const std::string& where) {
  if (!n.is_object() || !n.contains("name") || !n["name"].is_string())
    throw std::invalid_argument(where + "\"name\" must be a string");
  const std::uint64_t task = u64_field(n, "task", where);
  if (task >= tasks) throw std::invalid_argument(where + "\"task\" must index \"tasks\"");
  NamedStats row;
  row.task = static_cast<std::uint32_t>(task);
  row.name = n["name"].get<std::string>();
  row.requests = u64_field(n, "requests", where);
  row.errors = u64_field(n, "errors", where);
  row.latency = histogram_field(n, "latency", where);
  return row;
}

// One entry of "messages", added to `out`.
void read_message(const nlohmann::json& m, const std::string& where, ErrorMessages* out) {
  if (!m.is_object() || !m.contains("kind") || !m["kind"].is_string() || !m.contains("message") ||
      !m["message"].is_string() || !m.contains("first_seen_s") || !m["first_seen_s"].is_number())
    throw std::invalid_argument(where + " needs \"kind\", \"message\" and \"first_seen_s\"");
  const auto kind = error_kind_from_name(m["kind"].get<std::string>());
  if (!kind) throw std::invalid_argument(where + "\"kind\" is unknown: " + m["kind"].dump());
  ErrorMessages::Entry& e = out->entries[{*kind, m["message"].get<std::string>()}];
  e.count = u64_field(m, "count", where);
  e.first_seen_s = m["first_seen_s"].get<double>();
}

}  // namespace

nlohmann::json IntervalStats::to_json() const {
  nlohmann::json out = {{"started", iterations_started},
                        {"dropped", dropped},
                        {"dropped_no_vuser", dropped_no_vuser},
                        {"late", late},
                        {"pacing_late", pacing_late},
                        {"cut_off", cut_off},
                        {"retries", retries},
                        {"responses", responses},
                        {"bytes_sent", bytes_sent},
                        {"bytes_received", bytes_received},
                        {"http2_responses", http2_responses},
                        {"busy", busy},
                        {"generator",
                         {{"lag_max_ms", lag_max_ms},
                          {"lag_at_s", lag_at_s},
                          {"stall_ms", stall_ms},
                          {"cpu", cpu},
                          {"steal", steal},
                          {"python_cpu", python_cpu},
                          {"python_held", python_held},
                          {"cpu_wait", cpu_wait}}},
                        {"last_start_s", last_start_s}};
  // Absent when unused, as an agent of an older version sends.
  if (!websocket.empty()) out["websocket"] = websocket.to_json();
  if (!grpc_status.empty()) out["grpc_status"] = grpc_status.to_json();
  // Absent when the scenario has none, as an agent of an older version sends.
  if (!custom.empty()) out["custom"] = custom.to_json();
  nlohmann::json& ts = out["tasks"] = nlohmann::json::array();
  for (const TaskStats& t : tasks) {
    ts.push_back({{"requests", t.requests},
                  {"errors", t.errors},
                  {"iteration_errors", t.iteration_errors},
                  {"iterations", t.iterations},
                  {"by_kind", t.errors_by_kind},
                  {"latency", t.latency.to_json()},
                  {"service", t.service.to_json()},
                  {"iteration", t.iteration.to_json()},
                  {"methods", t.methods}});
    // Absent when not known, as an agent of an older version sends.
    if (t.wire_known) ts.back()["wire_iterations"] = t.wire_iterations;
  }
  // Absent when there are none, as an agent of an older version sends.
  if (!named.empty()) {
    nlohmann::json& ns = out["named"] = nlohmann::json::array();
    for (const NamedStats& n : named) {
      ns.push_back({{"task", n.task},
                    {"name", n.name},
                    {"requests", n.requests},
                    {"errors", n.errors},
                    {"latency", n.latency.to_json()}});
    }
  }
  nlohmann::json& ms = out["messages"] = nlohmann::json::array();
  for (const auto& [key, entry] : messages.entries) {
    ms.push_back({{"kind", name(key.first)},
                  {"message", key.second},
                  {"count", entry.count},
                  {"first_seen_s", entry.first_seen_s}});
  }
  return out;
}

IntervalStats IntervalStats::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("stats: expected an object");
  IntervalStats s;
  read_counters(j, &s);
  // Absent from an agent of a version without HTTP/2.
  if (j.contains("http2_responses")) s.http2_responses = u64_field(j, "http2_responses", "stats: ");
  if (j.contains("websocket")) {
    try {
      s.websocket = WebSocketCounts::from_json(j["websocket"]);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("stats: ") + e.what());
    }
  }
  if (j.contains("grpc_status")) {
    try {
      s.grpc_status = GrpcCounts::from_json(j["grpc_status"]);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("stats: ") + e.what());
    }
  }
  // Absent when the scenario has none, or from an agent of an older version.
  if (j.contains("custom")) {
    try {
      s.custom = CustomMetrics::from_json(j["custom"]);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("stats: ") + e.what());
    }
  }
  s.busy = non_negative_number(j, "busy");
  read_generator(j, &s);
  s.last_start_s = non_negative_number(j, "last_start_s");
  const nlohmann::json& ts = array_field(j, "tasks", "stats: ");
  for (std::size_t i = 0; i < ts.size(); ++i)
    s.tasks.push_back(task_from_json(ts[i], "stats: tasks[" + std::to_string(i) + "]."));
  // Absent when there are none, as an agent of an older version sends.
  if (j.contains("named")) {
    const nlohmann::json& ns = array_field(j, "named", "stats: ");
    for (std::size_t i = 0; i < ns.size(); ++i) {
      NamedStats row =
          named_from_json(ns[i], s.tasks.size(), "stats: named[" + std::to_string(i) + "].");
      s.named[s.named_row(row.task, row.name)].merge(row);
    }
  }
  const nlohmann::json& ms = array_field(j, "messages", "stats: ");
  for (std::size_t i = 0; i < ms.size(); ++i)
    read_message(ms[i], "stats: messages[" + std::to_string(i) + "].", &s.messages);
  return s;
}

}  // namespace loadpilot::metrics
