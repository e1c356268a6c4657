#include "metrics/stats.h"

#include <algorithm>
#include <cassert>

namespace loadpilot::metrics {

namespace {
constexpr std::string_view kOtherMessages = "(other messages)";
}  // namespace

void TaskStats::merge(const TaskStats& other) {
  requests += other.requests;
  errors += other.errors;
  iterations += other.iterations;
  for (std::size_t k = 0; k < kErrorKindCount; ++k) errors_by_kind[k] += other.errors_by_kind[k];
  latency.merge(other.latency);
  service.merge(other.service);
  iteration.merge(other.iteration);
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

void IntervalStats::merge(const IntervalStats& other) {
  if (tasks.size() < other.tasks.size()) tasks.resize(other.tasks.size());
  for (std::size_t t = 0; t < other.tasks.size(); ++t) tasks[t].merge(other.tasks[t]);
  messages.merge(other.messages);
  iterations_started += other.iterations_started;
  dropped += other.dropped;
  late += other.late;
}

void Recorder::record_request(std::size_t task, std::uint64_t latency_us, std::uint64_t service_us,
                              const ErrorKind* error, std::string_view message, double now_s) {
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
}

void Recorder::record_iteration(std::size_t task, std::uint64_t duration_us) {
  assert(task < current_.tasks.size());
  TaskStats& t = current_.tasks[task];
  ++t.iterations;
  t.iteration.record(duration_us);
}

void Recorder::record_iteration_error(std::size_t task, ErrorKind kind, std::string_view message,
                                      double now_s) {
  assert(task < current_.tasks.size());
  TaskStats& t = current_.tasks[task];
  ++t.errors;
  ++t.errors_by_kind[static_cast<std::size_t>(kind)];
  current_.messages.add(kind, message, now_s);
}

IntervalStats Recorder::take() {
  IntervalStats out(std::move(current_));
  current_ = IntervalStats(out.tasks.size());
  return out;
}

}  // namespace loadpilot::metrics
