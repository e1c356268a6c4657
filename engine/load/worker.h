#pragma once
// Worker: one OS thread with its own event loop, Sender (HTTP connection
// pool) and Recorder, sharing nothing with the other workers on the hot
// path (docs/engine.md#workers). A run has N workers; its
// Pacer (load/pacer.h) says when this worker's iterations come due: worker
// w takes the iterations k = w, w+N, w+2N, ... of the open model's curve,
// or runs the closed model's users w, w+N, w+2N, ..., so together the
// workers follow the plan exactly.
//
// Latency is measured from the iteration's *intended* start (the pacer's):
// when the worker runs late or every connection is busy, the wait is part
// of the latency (coordinated-omission correction). An arrival that finds
// every connection busy waits in a queue of at most max_queue arrivals; one
// that finds the queue full, or waited there longer than the request
// timeout, is dropped and counted. When nothing can be taken (connections
// and queue full, or every VUser busy) a whole backlog of due arrivals is
// counted as dropped in one step, so an asked rate far above what the
// machine or the target can do costs neither memory nor time
// (docs/engine.md#overload). Every iteration that ends or is dropped is
// handed back to the pacer, whose closed users then think and go again.
//
// No arrival due after the profile's end is taken; one due before it that
// the loop reaches only after it (a busy machine) starts, late, as it would
// mid-run, and those queued for a connection may still start during the
// drain. stop_arrivals() drops the
// queue at once. cut_off() ends the run for this worker: the queue is
// dropped, requests still in flight are counted as cut off and what they
// return later is ignored.
//
// Tasks whose runtime is "python" are not sent here: their arrivals are
// handed to the ScriptedTasks runtime (same schedule, same intended start,
// the closed model's user), at most `python_capacity` at a time in the open
// model, and stay in flight until it reports the iteration done.
//
// Thread-safety: the public methods may be called from any thread; they
// post work onto the worker's event loop. Callbacks passed in are invoked on
// the worker's thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "http/client.h"
#include "load/pacer.h"
#include "load/profile.h"
#include "load/run_queue.h"
#include "load/scripted.h"
#include "load/sender.h"
#include "load/source.h"
#include "metrics/snapshot.h"
#include "plan/plan.h"

namespace loadpilot::load {

struct WorkerOptions {
  // Its share of the schedule: iterations k (closed model: users) with
  // k mod count == index (count spans every worker of every agent of the
  // run).
  std::size_t index = 0;
  std::size_t count = 1;
  // Its position among its own engine's workers: the worker number the
  // scripted runtime hands back with its completions (ScriptedLink).
  std::size_t local = 0;
  std::size_t max_connections = 64;    // this worker's share
  std::size_t max_queue = 1000;        // waiting arrivals before dropping
  std::size_t python_capacity = 1000;  // Python arrivals in flight at most
  http::ClientOptions client;
  std::uint64_t seed = 1;
  SenderFactory make_sender;  // null: make_http_sender
};

class Worker : public Source {
 public:
  // `on_drained` is called (on the worker thread) once, when the worker has
  // no more arrivals to start and nothing in flight.
  // `scripted` runs the plan's "python" tasks; it may be null when there
  // are none, and must outlive the worker.
  Worker(const plan::Plan& plan, const Profile& profile, const http::Target& target,
         WorkerOptions options, std::function<void()> on_drained,
         ScriptedTasks* scripted = nullptr);
  ~Worker() override;

  void start(Clock::time_point t0) override;
  // Hands this worker's measurements since the last report to `sink`.
  void report(std::function<void(metrics::WorkerReport&&)> sink) override;
  // Stops starting new iterations (queued ones are dropped); in-flight ones
  // continue.
  void stop_arrivals() override;
  // As stop_arrivals(), and what is still in flight is counted as cut off.
  void cut_off() override;
  // Abandons in-flight requests (they are not recorded) and ends the loop.
  void abort() override;
  void join() override;

  // For the scripted runtime (any thread): `iterations_done` of this
  // worker's arrivals have ended; `users` are the closed model's users
  // among them.
  void scripted_done(std::size_t iterations_done, std::vector<std::uint32_t> users);

 private:
  struct Queued {
    std::uint32_t task;
    Clock::time_point intended;
    std::uint32_t user;
  };

  // The lag probe (docs/engine.md#generator-health): a timer every
  // kProbePeriod on this worker's own loop; how late it wakes is how long
  // the loop could not run (busy, or the thread not scheduled). Its own
  // timer and this thread's Recorder: no lock, nothing shared.
  static constexpr std::chrono::milliseconds kProbePeriod{20};
  void arm_probe();
  void schedule_next();
  void on_timer();
  bool can_take_any() const;
  std::uint64_t drop_due_by(Clock::time_point now);
  void start_due(Clock::time_point now);
  void start_iteration(const Arrival& a, Clock::time_point now);
  void send(const Queued& q, Clock::time_point now);
  void send_queued();
  void on_result(const Queued& q, http::Result&& r);
  void end_arrivals(bool drop_queue);
  void check_drained();
  std::uint32_t pick_task();
  double seconds_since_start(Clock::time_point t) const;

  const Profile& profile_;
  WorkerOptions options_;
  std::unique_ptr<Pacer> pacer_;
  std::function<void()> on_drained_;
  boost::asio::io_context io_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer probe_;
  std::unique_ptr<Sender> sender_;
  ScriptedTasks* scripted_;
  metrics::Recorder recorder_;
  std::vector<bool> python_;  // per task: handed to scripted_
  // Per task: the recorder's sub-row of a native request with a name=
  // (docs/scenarios.md#metrics), else Recorder::kNotNamed.
  std::vector<std::size_t> named_;
  bool has_native_ = false, has_python_ = false;
  std::vector<double> cumulative_weight_;
  std::mt19937_64 rng_;
  std::thread thread_;
  Clock::time_point t0_;
  Clock::time_point end_;
  Clock::time_point armed_ = Clock::time_point::max();  // the timer's expiry
  std::deque<Queued> queue_;                            // waiting for a connection, oldest first
  std::uint64_t native_in_flight_ = 0;
  std::uint64_t python_in_flight_ = 0;
  // This thread's CPU time and the wall clock at the last report.
  std::chrono::nanoseconds cpu_at_report_{0};
  Clock::time_point wall_at_report_;
  // This thread's run-queue wait (docs/engine.md#generator-health), read
  // on the thread itself at each report.
  RunQueueWait run_queue_;
  bool arrivals_done_ = false;
  bool cut_ = false;  // cut_off(): results are no longer recorded
  bool aborted_ = false;
  bool drained_sent_ = false;
};

}  // namespace loadpilot::load
