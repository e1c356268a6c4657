#pragma once
// Engine: runs one Plan on this machine. It owns the workers (DESIGN §4) and
// the Collector; once a second it gathers every worker's interval stats,
// merges them into a Snapshot and hands it to the caller.
//
// Thread-safety: run() is called once, from one thread, and calls
// on_snapshot on that thread. stop() may be called from any thread.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "http/target.h"
#include "load/profile.h"
#include "metrics/snapshot.h"
#include "plan/plan.h"

namespace loadpilot::load {

class Worker;
class ScriptedTasks;

struct EngineOptions {
  std::size_t workers = 0;          // 0: one per core
  std::size_t max_connections = 0;  // 0: default_max_connections(plan)
  std::size_t max_queue = 0;        // 0: default_max_queue(plan)
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds drain{2000};  // grace for in-flight requests on stop
  bool insecure = false;
  std::uint64_t seed = 1;
};

// Connections when none are given: the concurrency needed to sustain the
// peak rate if responses took 100 ms (Little's law), within [8, 1000]; 64
// for an unlimited-rate run.
std::size_t default_max_connections(const plan::Plan& plan);
// Arrivals allowed to wait for a free connection before new ones are
// dropped: five seconds' worth at the peak rate, at least 1000.
std::size_t default_max_queue(const plan::Plan& plan);

struct RunOutcome {
  bool interrupted = false;  // stop() was called before the profile ended
  double duration_s = 0;     // from the first arrival to the end of the run
  metrics::Snapshot final_snapshot;
};

class Engine {
 public:
  // `scripted` runs the plan's "python" tasks (null when there are none;
  // throws std::invalid_argument when the plan has some and it is null);
  // it must outlive the Engine. The run then ends only after its finish()
  // (VUsers' on_stop) completed or ran out of drain time.
  Engine(const plan::Plan& plan, const http::Target& target, EngineOptions options,
         ScriptedTasks* scripted = nullptr);
  ~Engine();

  RunOutcome run(const std::function<void(const metrics::Snapshot&)>& on_snapshot);
  // Ends the run early: no new arrivals; in-flight requests get
  // options.drain to finish. A second call abandons them at once.
  void stop();

  const metrics::Collector& collector() const { return collector_; }
  const Profile& profile() const { return profile_; }
  std::size_t max_connections() const { return max_connections_; }
  std::size_t worker_count() const { return worker_count_; }

 private:
  metrics::Snapshot collect(double interval_s, double elapsed_s);
  void start_scripted(std::chrono::steady_clock::time_point t0);

  const plan::Plan& plan_;
  http::Target target_;
  EngineOptions options_;
  Profile profile_;
  metrics::Collector collector_;
  std::size_t worker_count_;
  std::size_t max_connections_;
  std::vector<std::unique_ptr<Worker>> workers_;
  ScriptedTasks* scripted_;

  std::mutex mu_;
  std::condition_variable cv_;
  int stop_requests_ = 0;
  std::size_t drained_ = 0;
  bool scripted_finished_ = false;
};

}  // namespace loadpilot::load
