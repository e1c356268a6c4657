#include "report/verdict.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace loadpilot::report {

namespace {

std::uint64_t own_late(const metrics::Round& r) { return r.late - std::min(r.late, r.pacing_late); }

// 1581 -> "1,581".
std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string percent(double share) { return fmt::format("{:.0f}%", share * 100); }

// Why no request reached the target, or empty when some did.
std::string nothing_sent_reason(const Evidence& e) {
  if (e.reached > 0) return {};
  const std::string most = e.top_error.empty() ? "" : fmt::format(" ({})", e.top_error);
  if (e.attempts == 0) {
    if (e.started == 0 && e.dropped > 0 && e.dropped + 0.5 >= e.planned)
      return "no iteration started: every arrival was dropped before it could run";
    if (e.started == 0 && (e.dropped > 0 || e.planned >= 1))
      return "no iteration started before the run ended";
    return {};
  }
  const std::uint64_t failed_early = e.connect_errors + e.iteration_errors;
  // Some were sent and timed out or failed; or none failed early (every
  // iteration was still running when cut off: held back, not failing).
  if (failed_early == 0 || failed_early + e.cut_off < e.attempts) return {};
  if (e.connect_errors > 0 && e.iteration_errors == 0)
    return fmt::format("every connection failed{}", most);
  if (e.iteration_errors > 0 && e.connect_errors == 0)
    return fmt::format("every iteration failed before sending a request{}", most);
  return fmt::format(
      "{} requests failed to connect and {} iterations failed before sending a request{}",
      grouped(e.connect_errors), grouped(e.iteration_errors), most);
}

bool run_behind(const Evidence& e) {
  if (e.unlimited) return false;
  const std::uint64_t late = e.late - std::min(e.late, e.pacing_late);
  return e.dropped > 0 || (e.started > 0 && late * 100 > e.started);
}

// The stalled seconds: a worker's loop woke kStallMs late or more.
struct Stalls {
  std::uint64_t late = 0;
  std::size_t count = 0;
  double worst_ms = 0, worst_at_s = 0;
};

Stalls stalls_of(const std::vector<metrics::Round>& rounds) {
  Stalls s;
  for (const metrics::Round& r : rounds) {
    if (r.health.lag_max_ms < kStallMs) continue;
    ++s.count;
    s.late += own_late(r);
    if (r.health.lag_max_ms > s.worst_ms) {
      s.worst_ms = r.health.lag_max_ms;
      s.worst_at_s = r.health.lag_at_s;
    }
  }
  return s;
}

std::string stall_note_of(const Stalls& s) {
  if (s.late == 0) return {};
  const std::string arrivals =
      s.late == 1 ? "1 arrival was" : fmt::format("{} arrivals were", grouped(s.late));
  if (s.count == 1)
    return fmt::format("{} late because the load generator stalled {:.0f} ms at {:.1f} s", arrivals,
                       s.worst_ms, s.worst_at_s);
  return fmt::format(
      "{} late because the load generator stalled {} times, longest {:.0f} ms at {:.1f} s",
      arrivals, s.count, s.worst_ms, s.worst_at_s);
}

// The sentence for a "machine" bottleneck: steal, then the threads' wait
// for a CPU, then a stall, from the worst of its seconds.
std::string machine_why(double steal, double wait, double busy, double lag, double lag_at) {
  if (steal >= kStealShare)
    return fmt::format(
        "this machine held the run back, not the target: the hypervisor took {} of its CPU "
        "(steal time)",
        percent(steal));
  if (wait >= kCpuWaitShare)
    return fmt::format(
        "this machine held the run back, not the target: the load generator waited for CPU {} "
        "of the time: other processes share its cores (busiest thread {} busy{})",
        percent(wait), percent(busy),
        lag >= kStallMs
            ? fmt::format(", event loop stalled up to {:.0f} ms at {:.1f} s", lag, lag_at)
            : "");
  return fmt::format(
      "this machine held the run back, not the target: the generator's event loop stalled up "
      "to {:.0f} ms (at {:.1f} s) while its threads were not busy (busiest {}): another "
      "process or the host took the CPU",
      lag, lag_at, percent(busy));
}

// The sentence for the run's bottleneck, from the seconds put down to it.
std::string why(const std::string& cause, const std::vector<const metrics::Round*>& seconds,
                const Evidence& e) {
  double busy = 0, cpu = 0, steal = 0, lag = 0, lag_at = 0, py_cpu = 0, py_held = 0, service = 0,
         wait = 0;
  std::uint64_t conns = 0, requests = 0;
  double vuser_wait = 0;
  for (const metrics::Round* r : seconds) {
    const metrics::GeneratorHealth& h = r->health;
    busy = std::max(busy, h.busy);
    cpu = std::max(cpu, h.cpu);
    steal = std::max(steal, h.steal);
    if (h.lag_max_ms > lag) {
      lag = h.lag_max_ms;
      lag_at = h.lag_at_s;
    }
    py_cpu = std::max(py_cpu, h.python_cpu);
    py_held = std::max(py_held, h.python_held);
    wait = std::max(wait, h.cpu_wait);
    conns = std::max(conns, h.connections_busy);
    service += r->service_p50_ms * static_cast<double>(r->requests);
    requests += r->requests;
    if (e.max_vusers > 0 && r->interval_s > 0)
      vuser_wait =
          std::max(vuser_wait, r->service_s / (static_cast<double>(e.max_vusers) * r->interval_s));
  }
  const double service_p50 = requests ? service / static_cast<double>(requests) : e.service_p50_ms;
  if (cause == "scenario") {
    if (e.python_blocked)
      return "the scenario held itself back, not the target: a VUser blocked the Python thread "
             "(see the problems below)";
    // Where the thread was held, when the watchdog caught it there.
    const std::string at =
        e.held_at.empty() ? ""
                          : fmt::format(
                                "; {} blocks the VUser thread: use await asyncio.sleep() or wait= "
                                "think time, not time.sleep() or another blocking call",
                                e.held_at);
    if (py_held >= kHeldShare)
      return fmt::format(
          "the scenario held itself back, not the target: VUser code kept the Python thread "
          "from its event loop {} of the time while it used {} CPU{}",
          percent(py_held), percent(py_cpu),
          at.empty() ? " (a blocking call such as time.sleep() in a task: use await "
                       "asyncio.sleep() or wait= think time)"
                     : at);
    return fmt::format(
        "the scenario held itself back, not the target: every VUser (max_vusers {}) was busy, "
        "but they spent at most {} of their time waiting for responses; the rest went to the "
        "scenario's own code (sleeps in tasks, on_start, think time){}",
        e.max_vusers, percent(vuser_wait), at);
  }
  if (cause == "machine") return machine_why(steal, wait, busy, lag, lag_at);
  if (cause == "generator") {
    if (py_cpu >= kBusyShare && py_cpu >= busy - 0.05)
      return fmt::format(
          "the load generator could not keep up: the Python thread was {} busy running VUser "
          "code (more --agents to run Python on more cores, or a lighter scenario)",
          percent(py_cpu));
    return fmt::format(
        "the load generator could not keep up: its busiest thread was {} busy, the process used "
        "{} of its cores{} (more --workers or --agents, or a bigger machine)",
        percent(busy), percent(cpu),
        lag >= kStallMs ? fmt::format(", its event loop lagged up to {:.0f} ms", lag) : "");
  }
  if (cause == "target") {
    // The service time before the run fell behind, when there was such a time.
    double base = 0;
    std::uint64_t base_n = 0;
    for (const metrics::Round& r : e.rounds) {
      if (r.behind()) break;
      base += r.service_p50_ms * static_cast<double>(r.requests);
      base_n += r.requests;
    }
    const std::string rise =
        base_n && service_p50 > 1.5 * base / static_cast<double>(base_n)
            ? fmt::format(" (from {:.2f} ms before)", base / static_cast<double>(base_n))
            : "";
    if (e.max_vusers > 0 && conns * 10 < e.max_connections * 9)
      return fmt::format(
          "the target could not keep up: every VUser (max_vusers {}) was waiting for its "
          "responses, service time p50 {:.2f} ms{}",
          e.max_vusers, service_p50, rise);
    return fmt::format(
        "the target could not keep up: {} of {} connections were busy with requests in flight "
        "and its service time was p50 {:.2f} ms{} (p99 {:.2f} ms over the run); raise "
        "--max-connections only if the target has headroom",
        conns, e.max_connections, service_p50, rise, e.service_p99_ms);
  }
  return fmt::format(
      "no side could be named from the evidence: no connection cap reached (at most {} of {} "
      "busy), no engine thread saturated (busiest {}), no stall (longest {:.0f} ms), no long "
      "wait for CPU (longest {})",
      conns, e.max_connections, percent(busy), lag, percent(wait));
}

}  // namespace

namespace {

// Connections busy as the workers counted them; from processes that do
// not count them (agents), a native run's iterations in flight held at
// least the connections open.
std::uint64_t connections_busy(const metrics::Round& r, const Evidence& e) {
  std::uint64_t busy = r.health.connections_busy;
  if (busy == 0 && e.max_vusers == 0) busy = std::min(r.in_flight, r.health.connections_open);
  return busy;
}

bool at_connection_cap(const metrics::Round& r, const Evidence& e) {
  return e.max_connections > 0 && static_cast<double>(connections_busy(r, e)) >=
                                      kConnectionsBusy * static_cast<double>(e.max_connections);
}

// Whether the connection cap explains far more of the second's drops than
// the machine could. A stall or a wait for CPU of a share S of the second
// leaves about S of its arrivals waiting, so they queue: a second that
// asked for 200, at the cap, with 160 dropped, is the target's even with a
// 67 ms stall in it (that explains about 13). Late arrivals are not
// weighed: after a stall the pacer catches up late on every arrival of
// the backlog, so a 115 ms stall can make most of a second late.
// kMachineMargin leaves the benefit of the doubt to the machine: a starved
// generator leaves responses unread, so its connections look busy too.
bool target_explains_more(const metrics::Round& r, const Evidence& e, double lost_share) {
  if (!at_connection_cap(r, e)) return false;
  const double asked = static_cast<double>(r.started + r.dropped);
  return static_cast<double>(r.dropped) >
         kMachineMargin * asked * std::min(1.0, lost_share) + kMachineSlack;
}

}  // namespace

std::string judge_round(const metrics::Round& r, const Evidence& e) {
  const metrics::GeneratorHealth& h = r.health;
  if (h.python_held >= kHeldShare && h.python_cpu < 0.5) return "scenario";
  if (h.steal >= kStealShare) return "machine";
  const bool saturated = h.busy >= kBusyShare || h.cpu >= kCpuShare;
  const double interval = r.interval_s > 0 ? r.interval_s : 1.0;
  if (h.lag_max_ms >= kStallMs && !saturated && h.python_cpu < kBusyShare &&
      !target_explains_more(r, e, h.lag_max_ms / 1000.0 / interval))
    return "machine";
  if (saturated || h.python_cpu >= kBusyShare) return "generator";
  // Starved by other processes: its loop woke late by a slice at a time
  // (under the stall mark) and responses waited unread, so connections
  // look busy; the wait is the evidence, checked before the target's
  // unless the cap explains far more than the wait could.
  if (h.cpu_wait >= kCpuWaitShare && !target_explains_more(r, e, h.cpu_wait)) return "machine";
  if (e.max_vusers > 0 && r.dropped_no_vuser > 0 && r.dropped_no_vuser * 2 >= r.dropped &&
      r.interval_s > 0) {
    // Every VUser was busy: waiting for the target, or in their own code?
    const double waiting = r.service_s / (static_cast<double>(e.max_vusers) * r.interval_s);
    return waiting >= 0.5 ? "target" : "scenario";
  }
  if (at_connection_cap(r, e)) return "target";
  return "unknown";
}

Verdict judge(const Evidence& e) {
  Verdict v;
  const Stalls stalls = stalls_of(e.rounds);
  v.stall_note = stall_note_of(stalls);
  if (stalls.late > 0) v.late_by_cause["stall"] = stalls.late;
  const std::string head = fmt::format(
      "could not keep up with the asked rate: {} of {:.0f} planned arrivals dropped, {} started "
      "late; ",
      e.dropped, e.planned, e.late);
  if (const std::string reason = nothing_sent_reason(e); !reason.empty()) {
    v.bottleneck = "nothing_sent";
    v.message =
        fmt::format("no request reached the target: {}; nothing here measured the target", reason);
    return v;
  }
  if (!run_behind(e)) return v;
  static constexpr std::array<const char*, 5> kOrder = {"scenario", "machine", "generator",
                                                        "target", "unknown"};
  std::map<std::string, std::vector<const metrics::Round*>> by_cause;
  for (const metrics::Round& r : e.rounds) {
    if (!r.behind()) continue;
    const std::string cause = judge_round(r, e);
    by_cause[cause].push_back(&r);
    v.late_by_cause[cause] += own_late(r);
  }
  std::string best;
  std::size_t most = 0;
  for (const char* cause : kOrder) {
    const auto it = by_cause.find(cause);
    if (it != by_cause.end() && it->second.size() > most) {
      best = cause;
      most = it->second.size();
    }
  }
  // The books say behind, but no single second did (the lateness was
  // spread thin): judge the run as one second.
  if (best.empty()) {
    metrics::Round whole;
    for (const metrics::Round& r : e.rounds) {
      whole.interval_s += r.interval_s;
      whole.dropped += r.dropped;
      whole.dropped_no_vuser += r.dropped_no_vuser;
      whole.service_s += r.service_s;
      whole.health.python_held = std::max(whole.health.python_held, r.health.python_held);
      whole.health.python_cpu = std::max(whole.health.python_cpu, r.health.python_cpu);
      whole.health.busy = std::max(whole.health.busy, r.health.busy);
      whole.health.cpu = std::max(whole.health.cpu, r.health.cpu);
      whole.health.steal = std::max(whole.health.steal, r.health.steal);
      whole.health.cpu_wait = std::max(whole.health.cpu_wait, r.health.cpu_wait);
      whole.health.connections_busy =
          std::max(whole.health.connections_busy, r.health.connections_busy);
    }
    best = judge_round(whole, e);
    for (const metrics::Round& r : e.rounds) by_cause[best].push_back(&r);
  }
  if (e.python_blocked) best = "scenario";
  v.bottleneck = best;
  v.message = head + why(best, by_cause[best], e);
  if (!v.stall_note.empty()) v.message += "; " + v.stall_note;
  return v;
}

nlohmann::json generator_json(const std::vector<metrics::Round>& rounds, const Verdict& v) {
  double lag = 0, lag_at = 0, stall = 0, cpu = 0, cpu_sum = 0, steal = 0, busy = 0, py_cpu = 0,
         py_held = 0, wait = 0;
  std::uint64_t conns_busy = 0, conns_open = 0, send_queue = 0;
  for (const metrics::Round& r : rounds) {
    const metrics::GeneratorHealth& h = r.health;
    if (h.lag_max_ms > lag) {
      lag = h.lag_max_ms;
      lag_at = h.lag_at_s;
    }
    stall += h.stall_ms;
    cpu = std::max(cpu, h.cpu);
    cpu_sum += h.cpu;
    steal = std::max(steal, h.steal);
    busy = std::max(busy, h.busy);
    py_cpu = std::max(py_cpu, h.python_cpu);
    py_held = std::max(py_held, h.python_held);
    wait = std::max(wait, h.cpu_wait);
    conns_busy = std::max(conns_busy, h.connections_busy);
    conns_open = std::max(conns_open, h.connections_open);
    send_queue = std::max(send_queue, h.send_queue);
  }
  nlohmann::json late = nlohmann::json::object();
  for (const auto& [cause, n] : v.late_by_cause) late[cause] = n;
  return {{"lag_max_ms", lag},
          {"lag_max_at_s", lag_at},
          {"stall_ms", stall},
          {"cpu_max", cpu},
          {"cpu_mean", rounds.empty() ? 0.0 : cpu_sum / static_cast<double>(rounds.size())},
          {"steal_max", steal},
          {"busy_max", busy},
          {"python_cpu_max", py_cpu},
          {"python_held_max", py_held},
          {"cpu_wait_max", wait},
          {"connections_busy_max", conns_busy},
          {"connections_open_max", conns_open},
          {"send_queue_max", send_queue},
          {"late_by_cause", std::move(late)},
          {"stall_note", v.stall_note}};
}

GeneratorBound generator_bound(const Evidence& e) {
  GeneratorBound b;
  b.total = e.rounds.size();
  for (const metrics::Round& r : e.rounds) {
    if (!r.behind()) continue;
    const std::string cause = judge_round(r, e);
    if (cause == "generator" || cause == "machine") ++b.seconds;
  }
  if (b.total == 0) return b;
  b.share = static_cast<double>(b.seconds) / static_cast<double>(b.total);
  if (b.share > kGeneratorBoundShare)
    b.message = fmt::format(
        "the load generator held the run back for {} of {} s ({:.0f}%): those seconds measured "
        "the generator, not the target (docs/engine.md#overload)",
        b.seconds, b.total, b.share * 100);
  return b;
}

void judge_overload(Summary& s, const metrics::Collector& collector, const RunLimits& limits,
                    bool unlimited) {
  Evidence e;
  e.unlimited = unlimited;
  e.planned = s.planned_iterations;
  e.started = s.started;
  e.dropped = s.dropped;
  e.late = s.late;
  e.pacing_late = s.pacing_late;
  e.dropped_no_vuser = s.dropped_no_vuser;
  e.attempts = s.attempts;
  e.cut_off = s.cut_off;
  for (std::size_t c = 0; c < metrics::kResponseClassCount; ++c)
    if (static_cast<metrics::ResponseClass>(c) != metrics::ResponseClass::kNone)
      e.reached += s.responses[c];
  e.connect_errors = s.errors_by_kind[static_cast<std::size_t>(metrics::ErrorKind::kConnect)];
  // Attempts that were not requests (Summary::attempts counts cut-off
  // iterations as attempts too).
  e.iteration_errors = s.attempts - std::min(s.attempts, s.requests + s.cut_off);
  const auto top = collector.cumulative().messages.top(1);
  if (!top.empty())
    e.top_error = fmt::format("{}: {}", metrics::name(top[0].first.first), top[0].first.second);
  e.max_connections = limits.max_connections;
  e.max_vusers = limits.max_vusers;
  e.python_blocked = limits.python_blocked;
  e.held_at = limits.held_at;
  e.service_p50_ms = s.service.p50_ms;
  e.service_p99_ms = s.service.p99_ms;
  e.rounds = collector.rounds();
  // The connection cap as the workers had it: without one given, what the
  // engine opened at most.
  if (e.max_connections == 0)
    for (const metrics::Round& r : e.rounds)
      e.max_connections = std::max<std::size_t>(e.max_connections, r.health.connections_open);
  const Verdict v = judge(e);
  s.bottleneck = v.bottleneck;
  s.overload = v.message;
  s.generator = generator_json(e.rounds, v);
  // Nothing sent measured neither side: that verdict says it all.
  if (v.bottleneck != "nothing_sent") {
    const GeneratorBound b = generator_bound(e);
    s.generator_bound = b.message;
    if (s.generator.is_object()) s.generator["bound_seconds"] = b.seconds;
  }
}

}  // namespace loadpilot::report
