#pragma once
// The overload verdict: which side held a run back, named from evidence
// (docs/engine.md#overload).
//
// Contract:
//  * judge() reads only its Evidence: the run's books and one
//    metrics::Round per collected second (arrivals, the target's service
//    time, the generator's health). It is a pure function, so every rule is
//    unit-tested with constructed evidence.
//  * A run where no request reached the target is "nothing_sent", with the
//    reason (every connection failed, every iteration failed before a
//    request, no iteration started), whatever else was seen: its lateness
//    and drops measured nothing about the target.
//  * Otherwise a run that kept up with its curve (no drop, at most 1% of
//    its own starts late; a closed user's pacing slot missed by its own long
//    iteration is not lateness) has no verdict: bottleneck stays empty.
//  * Each second that fell behind is put down to one cause, from that
//    second's evidence only; the run's bottleneck is the cause of most such
//    seconds (ties: scenario, machine, generator, target, unknown).
//    A second whose engine thread waited for a CPU kCpuWaitShare of it or
//    more, or whose event loop stalled kStallMs (and no thread saturated),
//    is the machine's: a starved generator leaves responses unread, so its
//    connections look busy. Unless the connection cap explains far more:
//    at the cap, with more arrivals dropped than kMachineMargin times the
//    share of the second the machine took, the second is the target's.
//    "target" needs evidence against the target: connections busy with
//    requests in flight, or VUsers that spent most of their time waiting for
//    responses. Never the default: with no evidence the verdict is
//    "unknown".
//  * Late arrivals in seconds where a worker's event loop stalled are
//    attributed to the stall ("1,581 arrivals were late because the load
//    generator stalled 115 ms at 4.2 s"), whether or not the run fell behind.
//
// Thread-safety: none needed (no state).
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "metrics/snapshot.h"
#include "report/summary.h"

namespace loadpilot::report {

// Thresholds of the per-second rules (docs/engine.md#overload).
inline constexpr double kStallMs = 50;           // a lag this long is a stall
inline constexpr double kBusyShare = 0.85;       // a thread this busy is saturated
inline constexpr double kCpuShare = 0.9;         // the process on every core it has
inline constexpr double kStealShare = 0.1;       // the hypervisor took this much
inline constexpr double kHeldShare = 0.8;        // the Python thread kept from its loop
inline constexpr double kConnectionsBusy = 0.9;  // share of the connection cap in use
// An engine thread runnable but waiting for a CPU this share of the second:
// other processes hold its cores (measured in docs/engine.md#generator-health).
inline constexpr double kCpuWaitShare = 0.25;
// A stalled or starved second at the connection cap stays the machine's
// unless more than kMachineMargin times the arrivals its lost share could
// hold back (plus kMachineSlack) were dropped.
inline constexpr double kMachineMargin = 2;
inline constexpr double kMachineSlack = 10;

struct Evidence {
  bool unlimited = false;  // rps="max": there is no curve to fall behind
  double planned = 0;      // arrivals the curve asked for
  std::uint64_t started = 0, dropped = 0, late = 0, pacing_late = 0, dropped_no_vuser = 0;
  std::uint64_t attempts = 0;          // requests + iterations failed outside a request
  std::uint64_t reached = 0;           // requests answered with a complete response
  std::uint64_t connect_errors = 0;    // requests whose connection failed
  std::uint64_t iteration_errors = 0;  // iterations failed before/outside a request
  std::uint64_t cut_off = 0;
  std::string top_error;  // "kind: message" of the most frequent error, or empty
  std::size_t max_connections = 0;
  std::size_t max_vusers = 0;   // 0: no Python VUsers
  bool python_blocked = false;  // the watchdog found VUser code blocking the Python thread
  std::string held_at;          // where VUser code held the Python thread longest ("get (f.py:12)")
  double service_p50_ms = 0, service_p99_ms = 0;
  std::vector<metrics::Round> rounds;
};

struct Verdict {
  // "", "nothing_sent", "scenario", "machine", "generator", "target" or
  // "unknown".
  std::string bottleneck;
  std::string message;  // the summary's overload line; empty without a verdict
  // Late arrivals (beyond pacing) of the seconds put down to each cause,
  // and of the seconds with a stall ("stall").
  std::map<std::string, std::uint64_t> late_by_cause;
  std::string stall_note;  // "N arrivals were late because ...", or empty
};

Verdict judge(const Evidence& e);

// The cause of one second that fell behind (one of Verdict::bottleneck's
// values but "" and "nothing_sent").
std::string judge_round(const metrics::Round& r, const Evidence& e);

// A generator-bound run (docs/engine.md#overload): the seconds that fell
// behind and were put down to the load generator or its machine, out of
// all the run's seconds. Over kGeneratorBoundShare of them, `message` says
// so: a warning in the summary, a problem (the run fails) with --strict.
inline constexpr double kGeneratorBoundShare = 0.1;
struct GeneratorBound {
  std::uint64_t seconds = 0, total = 0;
  double share = 0;
  std::string message;  // empty: at most kGeneratorBoundShare
};
GeneratorBound generator_bound(const Evidence& e);

// The results file's `generator` object (docs/output.md#--results-json-path): the
// generator's health over the run and the late arrivals by cause.
nlohmann::json generator_json(const std::vector<metrics::Round>& rounds, const Verdict& v);

// Fills the Summary's bottleneck, overload and generator from the books
// already in it and the collector's rounds (build_summary calls it once the
// totals are in).
void judge_overload(Summary& s, const metrics::Collector& collector, const RunLimits& limits,
                    bool unlimited);

}  // namespace loadpilot::report
