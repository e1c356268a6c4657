#pragma once
// ScriptedTasks: the engine's view of a runtime that executes task bodies
// itself (the Python VUser runtime, scenario/vuser_runtime.h). The load/
// layer knows nothing about Python; it hands arrivals over and takes the
// ends of iterations back. The runtime sends its HTTP on its own thread with
// its own http::Client: handing every request to a worker and every response
// back cost two thread wake-ups per request.
//
// Contract, in the order the Engine calls it:
//   1. extra_labels(): metric rows the runtime records into beyond the
//      plan's tasks (e.g. "on_start"); row i of the run is plan.tasks[i] for
//      i < tasks, then these labels in order.
//   2. start(link): before any arrival. The runtime keeps `link`.
//   3. arrive(): called on worker threads, once per arrival of a task whose
//      runtime is "python", stamped with its intended start and, in a
//      closed model, its user (load::kNoUser otherwise). The runtime runs
//      every iteration of one closed-model user on that user's own VUser.
//      It answers every arrival with exactly one iteration end for that
//      worker (link.dispatch's iterations_done, with the arrival's user
//      among `users` when it had one; when the iteration ends, or at once
//      when it is dropped); the worker counts it as in flight until then.
//      In a closed-loop ("max") run whose tasks all run in Python, the
//      runtime may instead start the next iteration itself when one ends —
//      the arrival the worker would make at once anyway — and keep the
//      slot: until link.arrivals_end or stop_arrivals(), whichever is first.
//      That saves the round trip through the worker per iteration.
//   3a. stop_arrivals(): the run is stopping early (Ctrl-C); no iteration
//      may start after it. Any thread.
//   4. finish(deadline): every worker has drained (or the drain time is
//      up). The runtime ends its VUsers (on_stop) and then calls
//      link.finished(), by `deadline` at the latest.
//   5. take(): any time, any thread: measurements since the last take();
//      open_connections() likewise, for its own client.
//   6. abort(): stop at once; nothing more is recorded. Iterations started
//      and not ended are counted as cut off in the next take(). Idempotent.
//
// Thread-safety: arrive(), stop_arrivals(), take(), finish() and abort() may be called from
// any thread; the link's functions are thread-safe too.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/client.h"
#include "metrics/stats.h"

namespace loadpilot::load {

struct ScriptedLink {
  std::chrono::steady_clock::time_point t0;  // the run's time origin
  // When the profile ends: no iteration starts at or after it.
  std::chrono::steady_clock::time_point arrivals_end;
  std::size_t workers = 1;
  // The runtime's own HTTP client: what the workers' clients would get,
  // with max_connections the run's total.
  http::ClientOptions client;
  // Tells worker w that `iterations_done` of its arrivals ended (one wake-up
  // of its loop for a batch of them); `users` are the users of those that
  // had one (closed model, or a closed loop's slots).
  std::function<void(std::size_t w, std::size_t iterations_done, std::vector<std::uint32_t> users)>
      dispatch;
  std::function<void()> finished;
  // Ends the run early (as Ctrl-C would), e.g. when no VUser can log in.
  std::function<void()> stop_run;
};

class ScriptedTasks {
 public:
  virtual ~ScriptedTasks() = default;
  virtual std::vector<std::string> extra_labels() const = 0;
  virtual void start(ScriptedLink link) = 0;
  virtual void arrive(std::size_t worker, std::uint32_t task,
                      std::chrono::steady_clock::time_point intended, std::uint32_t user) = 0;
  virtual void stop_arrivals() = 0;
  // How many arrivals it can run at once (its VUsers); in the open model the
  // workers drop arrivals beyond it themselves rather than queue them to
  // the runtime.
  virtual std::size_t capacity() const = 0;
  virtual void finish(std::chrono::steady_clock::time_point deadline) = 0;
  virtual metrics::IntervalStats take() = 0;
  virtual std::size_t open_connections() const = 0;
  virtual void abort() = 0;
};

}  // namespace loadpilot::load
