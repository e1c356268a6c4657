#pragma once
// VUserRuntime: runs the plan's "python" tasks as real Python on every
// iteration (docs/engine.md#python-vusers).
//
// One OS thread (the Python thread) holds the interpreter and runs every
// VUser cooperatively: loadpilot._runtime drives plain `def` task bodies in
// greenlets and `async def` bodies on an asyncio loop that lives on that
// thread. Arrivals come from the workers (arrive(), any worker thread)
// through one queue (the Hub) that wakes the Python thread by an eventfd;
// the ends of iterations go back to each worker in one batch per pass of
// the Python loop (ScriptedLink::dispatch).
//
// The Python thread sends its requests itself, on an http::Client of its
// own (a Boost.Asio loop on that thread; the run's --max-connections): a
// call is serialised in C++ and written at once, and its response is
// handed to the waiting VUser on the same thread, never through a worker.
// asyncio's wait is that loop's (Hub::run_io, the GIL released while it
// blocks), so a finished request, an arrival, an asyncio timer or a socket
// of the user's own all wake the one loop.
//
// Measurements from the Python thread go into one Recorder behind a mutex;
// the collector takes it once a second like a worker's. A request is
// recorded here as it finishes unless Python must judge it first (a
// check_<task>, a per-call timeout=, a redirect to follow); Python records
// those once their fate is known.
//
// A PythonWatchdog (scenario/python_watchdog.h) watches the Python thread
// for the whole run: a VUser whose code keeps the thread from its loop for
// 3 s (an endless loop, time.sleep() in an async task, a blocking call)
// stops the run through ScriptedLink::stop_run, with a message naming the
// code and its stack (fatal_error()); waiting for a response never counts
// (docs/engine.md#a-vuser-that-blocks-the-python-thread).
//
// Lifetime: construct on the main thread after load_scenarios() imported
// the scenario (the class is looked up in the loaded module), with the GIL
// held, as the loader leaves it. start() releases the main thread's GIL for
// the run; the destructor (main thread) joins the Python thread and takes
// the GIL back (a run of several scenarios has one runtime per Python
// scenario, each with its own Python thread: the first to start hands the
// GIL over, the last destroyed takes it back). When that thread does not end — a VUser blocks it,
// known from the watchdog at once; or 5 s pass — the destructor says why and ends the process
// (results are written before): exit code kBlockedExitCode for a blocked VUser, else 1. Must
// outlive the Engine that uses it.
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/target.h"
#include "load/run_queue.h"
#include "load/scripted.h"
#include "plan/plan.h"
#include "scenario/python_watchdog.h"

struct _ts;  // PyThreadState

namespace loadpilot::scenario {

// Max VUsers when neither @scenario(max_vusers=) nor --max-vusers is given.
inline constexpr int kDefaultMaxVUsers = 1000;
// The exit code of a run that a blocked VUser stopped: the scenario's code
// cannot run as written, like invalid input (docs/cli.md#exit-codes).
inline constexpr int kBlockedExitCode = 2;

// True when some task of the plan runs in Python.
bool needs_vuser_runtime(const plan::Plan& plan);

class VUserRuntime : public load::ScriptedTasks {
 public:
  // Throws ScenarioError when the scenario class cannot be prepared.
  VUserRuntime(const plan::Plan& plan, const http::Target& target);
  ~VUserRuntime() override;
  VUserRuntime(const VUserRuntime&) = delete;
  VUserRuntime& operator=(const VUserRuntime&) = delete;

  std::vector<std::string> extra_labels() const override;
  void start(load::ScriptedLink link) override;
  void arrive(std::size_t worker, std::uint32_t task,
              std::chrono::steady_clock::time_point intended, std::uint32_t user) override;
  void stop_arrivals() override;
  std::size_t capacity() const override;
  void finish(std::chrono::steady_clock::time_point deadline) override;
  metrics::IntervalStats take() override;
  std::size_t open_connections() const override;
  void abort() override;

  // Why the runtime stopped the run itself (e.g. no on_start ever
  // succeeded, a VUser blocked the Python thread), or empty. Valid after
  // the Engine's run() returned.
  std::string fatal_error() const;
  // A VUser blocked the Python thread (the watchdog found it).
  bool python_blocked() const;
  // Where VUser code kept the Python thread from its event loop longest
  // (a stretch of at least 200 ms: time.sleep(), a blocking call), as
  // "get (scenario.py:12)"; empty when it never did.
  std::string held_at() const { return watchdog_ ? watchdog_->held_at().where : ""; }
  // The VUser pool's limit for this run (a closed model: its users).
  int max_vusers() const { return max_vusers_; }
  // The file's custom metrics are the process's (ScriptMetrics): in a run
  // of several scenarios one runtime reports them, the others leave them.
  void set_takes_custom_metrics(bool takes) { takes_custom_metrics_ = takes; }

  struct Hub;  // the queue and recorder shared with Python (vuser_runtime.cc)

 private:
  std::shared_ptr<Hub> hub_;
  std::vector<std::string> labels_;
  int max_vusers_ = kDefaultMaxVUsers;
  void* runtime_ = nullptr;  // the Python-side Runtime object (a PyObject*, owned)
  std::thread thread_;
  std::future<void> thread_ended_;
  bool started_ = false;  // start() ran: it counts among the runtimes holding the GIL away
  bool takes_custom_metrics_ = true;
  // The Python thread's CPU time and the wall clock at the last take().
  std::chrono::nanoseconds busy_cpu_{0};
  std::chrono::steady_clock::time_point busy_wall_{};
  std::chrono::steady_clock::time_point held_wall_{};  // the watchdog's held time, last read
  // The Python thread's id (0 until it runs) and its run-queue wait, read
  // from the collecting thread at each take().
  std::shared_ptr<std::atomic<pid_t>> python_tid_ = std::make_shared<std::atomic<pid_t>>(0);
  std::optional<load::RunQueueWait> python_wait_;
  PythonWatchdog::Options watch_options_;
  std::unique_ptr<PythonWatchdog> watchdog_;  // from start()
  // fatal_error() has returned the watchdog's message (else the destructor
  // prints it).
  mutable std::atomic<bool> blocked_told_{false};

  [[noreturn]] void abandon_thread() const;
};

}  // namespace loadpilot::scenario
