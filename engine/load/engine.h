#pragma once
// Engine: runs one Plan on this machine.
//
// A plan of several scenarios (docs/scenarios.md#several-scenarios-in-one-run)
// runs as lanes: each scenario has workers of its own (its own pacer on its
// own curve, connections and queue), its own Python runtime when it has
// Python tasks (EngineOptions::scenario_runtimes), and its own Collector
// besides the run's, so its books and figures are exact on their own; the run's
// snapshot carries each scenario's (Snapshot::scenarios). It owns the workers (shared-nothing,
// docs/engine.md#workers) and the Collector; once a second it gathers every
// worker's interval stats, merges them into a Snapshot and hands it to the
// caller.
//
// Thread-safety: run() is called once, from one thread, and calls
// on_snapshot on that thread. stop() may be called from any thread.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/target.h"
#include "load/host_usage.h"
#include "load/profile.h"
#include "load/sender.h"
#include "load/source.h"
#include "metrics/snapshot.h"
#include "plan/plan.h"

namespace loadpilot::load {

class Worker;
struct WorkerOptions;
class ScriptedTasks;
class Source;

struct EngineOptions {
  std::size_t workers = 0;          // 0: one per core
  std::size_t max_connections = 0;  // 0: default_max_connections(plan)
  std::size_t max_queue = 0;        // 0: default_max_queue(plan)
  std::chrono::milliseconds timeout{30000};
  // After the profile ends (or the first stop()), what is in flight gets
  // this long to finish; then it is counted as cut off and the run ends.
  std::chrono::milliseconds drain{2000};
  bool insecure = false;
  std::uint64_t seed = 1;
  // This engine is agent `agent_index` of `agent_count` processes sharing
  // one schedule: it starts the iterations k with
  // k mod agent_count == agent_index, its worker w those with
  // k mod (agent_count * workers) == agent_index + agent_count * w (agents
  // may have different worker counts).
  std::size_t agent_index = 0;
  std::size_t agent_count = 1;
  // The run's time origin, when given (agents start on their coordinator's;
  // see Engine::set_start_at).
  std::optional<std::chrono::steady_clock::time_point> start_at;
  // Coordinator of agent processes: with `agents` > 0 the engine runs no
  // workers of its own; make_agent(i, on_drained) makes source i (called
  // for every i before any waits for readiness). `extra_labels` are the
  // metric rows the agents' Python runtimes add after the plan's tasks.
  std::size_t agents = 0;
  std::function<std::unique_ptr<Source>(std::size_t index, std::function<void()> on_drained)>
      make_agent;
  std::vector<std::string> extra_labels;
  // A plan of several scenarios: per scenario (in plan order), the runtime
  // of its Python tasks, null for a scenario whose tasks are all native.
  // Each runs that scenario alone, served by its lane's workers; its extra
  // metric rows come after the run's tasks, scenario by scenario, named
  // "Scenario.label" in the run's collector and "label" in the lane's.
  std::vector<ScriptedTasks*> scenario_runtimes;
  // Measurements the sources merged as they arrived instead of reporting
  // them (a coordinator's agents, metrics/round_accumulator.h): taken at
  // each round after the sources' reports, as one more report.
  std::function<metrics::IntervalStats()> take_merged;
  // Tests: the workers' Sender (null: HTTP to the target).
  SenderFactory make_sender;
};

// Connections when none are given: the concurrency needed to sustain the
// peak rate if responses took 100 ms (Little's law), within [8, 1000]; 64
// for an unlimited-rate run.
std::size_t default_max_connections(const plan::Plan& plan);
// Arrivals allowed to wait for a free connection before new ones are
// dropped: one second's worth at the peak rate, within [1000, 10000] — a
// fixed bound, so an asked rate far beyond capacity costs no memory.
std::size_t default_max_queue(const plan::Plan& plan);

// Share i of `total` split n ways, the shares differing by at most one (the
// split of connections between workers, and of connections, workers and
// VUsers between agent processes).
constexpr std::size_t share_of(std::size_t total, std::size_t i, std::size_t n) {
  return total / n + (i < total % n ? 1 : 0);
}

struct RunOutcome {
  bool interrupted = false;  // stop() was called before the profile ended
  double duration_s = 0;     // from the first arrival to the end of the run
  metrics::Snapshot final_snapshot;
};

class Engine {
 public:
  // `scripted` runs the plan's "python" tasks (null when there are none;
  // throws std::invalid_argument when the plan has some and it is null; a
  // plan of several takes EngineOptions::scenario_runtimes instead);
  // it must outlive the Engine. The run then ends only after its finish()
  // (VUsers' on_stop) completed or ran out of drain time.
  Engine(const plan::Plan& plan, const http::Target& target, EngineOptions options,
         ScriptedTasks* scripted = nullptr);
  ~Engine();

  RunOutcome run(const std::function<void(const metrics::Snapshot&)>& on_snapshot);
  // The run's time origin (before run()); by default 20 ms after run().
  void set_start_at(std::chrono::steady_clock::time_point t0) { options_.start_at = t0; }
  // Ends the run early: no new arrivals; in-flight requests get
  // options.drain to finish. A second call abandons them at once.
  void stop();
  // The same, with at most MAX_DRAIN for what is in flight (a run a
  // threshold ended need not wait out the target's slowness).
  void stop(std::chrono::milliseconds max_drain);

  const metrics::Collector& collector() const { return collector_; }
  // A run of several scenarios: how many (0 for a run of one), and each
  // one's collector and curve (its start= wait included).
  std::size_t lane_count() const { return lanes_.size(); }
  const metrics::Collector& lane_collector(std::size_t l) const { return lanes_[l]->collector; }
  const Profile& lane_profile(std::size_t l) const { return lanes_[l]->profile; }
  // Per row of the run's collector, the scenario it belongs to (a run of
  // several; empty for a run of one).
  std::vector<std::string> row_scenarios() const;
  const Profile& profile() const { return profile_; }
  std::size_t max_connections() const { return max_connections_; }
  std::size_t worker_count() const { return worker_count_; }
  std::chrono::milliseconds drain() const { return options_.drain; }

 private:
  struct Inbox;
  // One scenario of a run of several.
  struct Lane {
    // EXTRA: RUNTIME's extra metric rows (ScriptedTasks::extra_labels()).
    Lane(const plan::Plan& p, std::size_t first, ScriptedTasks* runtime,
         const std::vector<std::string>& extra, std::size_t extras_at)
        : plan(p),
          profile(Profile::of(p)),
          first_task(first),
          scripted(runtime),
          first_extra(extras_at),
          collector([&] {
            std::vector<std::string> names;
            for (const plan::TaskSpec& t : p.tasks) names.push_back(t.name);
            names.insert(names.end(), extra.begin(), extra.end());
            return names;
          }()) {}
    // Row ROW of this lane's reports, in the run's collector.
    std::size_t run_row(std::size_t row) const {
      return row < plan.tasks.size() ? first_task + row : first_extra + (row - plan.tasks.size());
    }
    const plan::Plan& plan;
    Profile profile;
    std::size_t first_task;   // its tasks' offset among the run's
    ScriptedTasks* scripted;  // its Python tasks' runtime, or null
    std::size_t first_extra;  // where its runtime's extra rows are among the run's
    metrics::Collector collector;
    std::vector<Worker*> workers;     // its workers, in the order its runtime numbers them
    std::size_t max_connections = 0;  // its workers' (and its runtime's) connections
  };
  metrics::Snapshot collect(double interval_s, double elapsed_s);
  // The lanes' rounds out of `reports` (each lane report's tasks then
  // moved to the run's indices), as Snapshot::scenarios.
  std::vector<metrics::Snapshot> collect_lanes(std::vector<metrics::WorkerReport>& reports,
                                               double interval_s, double elapsed_s);
  void make_lane_workers(std::size_t max_queue_total, const std::function<void()>& on_drained);
  // Worker i of `workers` running PART: its share of the schedule (over
  // this process's agent share), of CONNS connections and QUEUE places,
  // and of RUNTIME's VUsers when PART has Python tasks.
  WorkerOptions worker_options(const plan::Plan& part, std::size_t i, std::size_t workers,
                               std::size_t conns, std::size_t queue, ScriptedTasks* runtime,
                               std::uint64_t seed) const;
  void start_scripted(std::chrono::steady_clock::time_point t0);
  // Starts RUNTIME for a plan served by WORKERS on PROFILE's curve.
  void start_runtime(ScriptedTasks* runtime, const plan::Plan& plan, const Profile& profile,
                     std::vector<Worker*> workers, std::size_t max_connections,
                     std::chrono::steady_clock::time_point t0);
  // Every scripted runtime of the run: scripted_, or the lanes' own.
  std::vector<ScriptedTasks*> runtimes() const;
  // The first stop(): arrivals end and the drain starts now (at the
  // latest); a second one ends the drain. Returns the drain's deadline.
  // Called with mu_ held.
  std::chrono::steady_clock::time_point on_stop_request(
      int stops_seen, std::chrono::steady_clock::time_point drain_deadline);
  // The scripted runtime's finish() (on_stop), with what is left of the
  // drain; cuts off what still runs. Returns the new drain deadline.
  std::chrono::steady_clock::time_point start_finish(
      bool workers_drained, std::chrono::steady_clock::time_point drain_deadline,
      std::chrono::steady_clock::time_point now);

  const plan::Plan& plan_;
  http::Target target_;
  EngineOptions options_;
  Profile profile_;
  metrics::Collector collector_;
  HostUsage host_;  // the process's CPU and the machine's steal, per round
  std::size_t worker_count_;
  std::size_t max_connections_;
  std::vector<std::unique_ptr<Source>> workers_;  // workers, or agent processes
  std::vector<Worker*> local_;                    // the workers among them
  std::vector<std::unique_ptr<Lane>> lanes_;      // a run of several scenarios
  std::vector<std::size_t> worker_lane_;          // per source: its lane, or kNoLane
  ScriptedTasks* scripted_;
  // Where the sources' reports arrive; shared with their callbacks, so an
  // answer that comes after collect() stopped waiting lands in the next
  // round instead of a dead stack frame.
  std::shared_ptr<Inbox> inbox_;
  // Open while the workers and this Engine may be called from the scripted
  // runtime's thread (ScriptedLink); closed before they go away.
  struct Gate {
    std::mutex mu;
    bool open = true;
  };
  std::shared_ptr<Gate> gate_;
  void close_gate();

  std::mutex mu_;
  std::condition_variable cv_;
  int stop_requests_ = 0;
  std::optional<std::chrono::milliseconds> stop_drain_;  // stop(max_drain)'s
  std::size_t drained_ = 0;
  std::size_t scripted_finished_ = 0;  // runtimes whose finish() completed
};

}  // namespace loadpilot::load
