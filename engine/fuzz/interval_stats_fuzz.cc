// Fuzz target: metrics::IntervalStats::from_json and to_json
// (engine/metrics/stats.h), with Histogram::from_json inside: the frames
// agent processes send their coordinator once a second.
//
// Input: JSON text (inputs that are not JSON are skipped).
//
// Invariants:
//  * from_json returns or throws std::invalid_argument; any other
//    exception is a finding;
//  * every histogram read describes one histogram: its count is the sum of
//    the counts the document lists and of its bucket counts (no
//    wrap-around), min <= max, at most count values clamped, and
//    percentiles ascend within [min, max];
//  * parse -> serialise -> parse: from_json(to_json(s)) succeeds and
//    serialises to the same JSON, also through text;
//  * merging into empty stats is exact: the result serialises like the
//    original (when it has no more distinct messages than merge() keeps).
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "fuzz/fuzz_support.h"
#include "metrics/stats.h"

namespace {

using loadpilot::metrics::ErrorMessages;
using loadpilot::metrics::Histogram;
using loadpilot::metrics::IntervalStats;
using nlohmann::json;

// `h` was read from `j`: its count must be what the document's counts add
// up to (computed here in 128 bits, so without wrap-around).
void check_histogram(const Histogram& h, const json& j, const std::string& where) {
  unsigned __int128 listed = 0;
  for (const json& c : j.at("c")) listed += c.get<std::uint64_t>();
  FUZZ_CHECK(listed == h.count(), where + ": count " + std::to_string(h.count()) +
                                      " but the document's counts add up to more");
  std::uint64_t total = 0;
  bool wrapped = false;
  h.for_each_bucket([&](std::uint64_t, std::uint64_t count) {
    wrapped = wrapped || total + count < total;
    total += count;
  });
  FUZZ_CHECK(!wrapped && total == h.count(),
             where + ": count " + std::to_string(h.count()) + " is not the sum of its buckets");
  FUZZ_CHECK(h.clamped_count() <= h.count(), where + ": more values clamped than recorded");
  if (h.empty()) return;
  FUZZ_CHECK(h.min() <= h.max(), where + ": min > max");
  std::uint64_t last = h.min();
  for (double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    const std::uint64_t v = h.value_at_percentile(p);
    FUZZ_CHECK(v >= last && v <= h.max(),
               where + ": p" + std::to_string(p) + " = " + std::to_string(v) + " out of order");
    last = v;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const json j = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  IntervalStats stats;
  try {
    stats = IntervalStats::from_json(j);
  } catch (const std::invalid_argument& e) {
    FUZZ_CHECK(std::string(e.what()).starts_with("stats: "),
               std::string("message without its subject: ") + e.what());
    return 0;
  }
  for (std::size_t i = 0; i < stats.tasks.size(); ++i) {
    const std::string at = "tasks[" + std::to_string(i) + "].";
    const json& task = j.at("tasks").at(i);
    check_histogram(stats.tasks[i].latency, task.at("latency"), at + "latency");
    check_histogram(stats.tasks[i].service, task.at("service"), at + "service");
    check_histogram(stats.tasks[i].iteration, task.at("iteration"), at + "iteration");
  }

  const json once = stats.to_json();
  IntervalStats again;
  try {
    again = IntervalStats::from_json(once);
  } catch (const std::invalid_argument& e) {
    FUZZ_CHECK(false, std::string("to_json() output rejected: ") + e.what());
  }
  FUZZ_CHECK(again.to_json() == once, "round trip changed the stats: " + once.dump());
  FUZZ_CHECK(IntervalStats::from_json(json::parse(once.dump())).to_json() == once,
             "round trip through text changed the stats");

  if (stats.messages.entries.size() <= ErrorMessages::kMaxDistinct) {
    IntervalStats merged;
    merged.merge(stats);
    FUZZ_CHECK(merged.to_json() == once, "merging into empty stats changed them");
  }
  return 0;
}
