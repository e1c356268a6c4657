#pragma once
// PythonWatchdog: notices, while a run goes on, that the one Python thread of
// a VUserRuntime no longer comes back to its event loop because a VUser's
// code keeps it — an endless loop, time.sleep(), a blocking call — and
// reports where (docs/engine.md#python-vusers).
//
// The Python thread marks when it enters and leaves the Hub's wait
// (Hub::run_io). Time spent inside it, with the interpreter lock released,
// is waiting for the network (a slow or large response) and never counts.
// Away from it for longer than `blocked_after`, the thread is blocked: the
// watchdog reads its Python stack, builds one message naming the VUser code
// (function, file:line, the stack) and hands it to `on_blocked`, once.
//
// Shorter stretches away (from kHeldNoteMs, a time.sleep() in a task, a
// blocking call) do not stop the run, but where they happen is sampled the
// same way and the longest is kept (held_at()): the overload verdict names
// that line (docs/engine.md#overload).
//
// Reading the stack: a helper thread takes the interpreter lock (a busy loop
// gives it up every switch interval; time.sleep() and blocking I/O release
// it) and walks the Python thread's frames. When the lock does not come
// within a second, the thread holds it inside a C function; its frames
// cannot change then, and are read without the lock the way Python's
// faulthandler reads them.
//
// Thread-safety: attach(), loop_entered(), loop_left() and detach() are
// called by the Python thread; everything else from any thread.
// Lifetime: the Python thread must call detach() before its thread state
// is deleted; the destructor may wait for the helper thread (it returns once
// the interpreter lock is free).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct _ts;  // PyThreadState

namespace loadpilot::scenario {

class PythonWatchdog {
 public:
  struct Options {
    std::chrono::milliseconds blocked_after{3000};
    std::chrono::milliseconds check_every{100};
    // How long the helper waits for the interpreter lock before the thread
    // is taken to hold it in a C function.
    std::chrono::milliseconds lock_wait{1000};
    std::string scenario_path;     // as the user gave it, for messages
    std::string scenario_abspath;  // the co_filename of the scenario's code
    std::string package_dir;       // the loadpilot package: runtime frames, left out
  };

  // One frame of the Python stack.
  struct Frame {
    std::string file;
    int line = 0;
    std::string function;  // qualified name when read with the lock
  };

  PythonWatchdog(Options options, std::function<void(const std::string&)> on_blocked);
  ~PythonWatchdog();
  PythonWatchdog(const PythonWatchdog&) = delete;
  PythonWatchdog& operator=(const PythonWatchdog&) = delete;

  // The Python thread, holding the interpreter lock: its thread state. It
  // is away from its loop from now on (it starts by setting the loop up).
  void attach(_ts* state);
  // The Python thread enters / leaves the Hub's wait.
  void loop_entered() { away_since_ns_.store(kInLoop, std::memory_order_relaxed); }
  void loop_left() { away_since_ns_.store(now_ns(), std::memory_order_relaxed); }
  // The Python thread ends (holding the interpreter lock, before its thread
  // state goes away).
  void detach();

  // The thread was found blocked (and reported).
  bool blocked() const { return blocked_.load(); }
  // The thread is inside the Hub's wait right now.
  bool in_loop() const { return away_since_ns_.load(std::memory_order_relaxed) == kInLoop; }
  // Nanoseconds the thread spent away from its loop (running or blocked
  // in VUser code) since the last call, sampled every check_every: the
  // Python thread's held share (docs/engine.md#generator-health).
  std::int64_t take_held_ns() { return held_ns_.exchange(0, std::memory_order_relaxed); }
  // The report given to on_blocked, or empty.
  std::string message() const;
  // The longest stretch away from the loop of at least kHeldNoteMs that
  // was sampled: where the VUser code was ("get (scenario.py:12)") and how
  // long the stretch lasted. Empty `where` when there was none.
  struct HeldAt {
    std::string where;
    double seconds = 0;
  };
  static constexpr int kHeldNoteMs = 200;
  HeldAt held_at() const;
  // Waits until the thread ended or was found blocked, until `deadline` at
  // the latest. Returns whether it ended.
  bool wait(std::chrono::steady_clock::time_point deadline);

  // Exposed for tests: the report for a stack (innermost frame first) of a
  // thread away from its loop for `away_s` seconds; `in_c_call` when it
  // holds the interpreter lock inside a C function.
  std::string describe(const std::vector<Frame>& stack, double away_s, bool in_c_call) const;
  // Parses Python's dump format ("  File \"F\", line N in NAME" lines).
  static std::vector<Frame> parse_dump(const std::string& dump);

 private:
  static constexpr std::int64_t kInLoop = 0;
  static constexpr std::int64_t kEnded = -1;
  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void watch();
  // The blocked thread's stack: with the interpreter lock when it can be
  // had, else read without it (*in_c_call set).
  std::vector<Frame> read_stack(bool* in_c_call);
  std::vector<Frame> read_stack_unlocked();
  // A stretch away of at least kHeldNoteMs: its place, read with the
  // interpreter lock if it comes soon (time.sleep() and blocking I/O
  // release it), else nothing. Called without mu_.
  std::string sample_place();
  // The VUser's own frames of `stack` (outermost in the scenario file
  // inwards; without one, those outside the runtime) and the frame that
  // names the place (*where: its index, or npos when there are none).
  std::vector<Frame> own_frames(const std::vector<Frame>& stack, std::size_t* where) const;

  Options options_;
  std::function<void(const std::string&)> on_blocked_;
  std::atomic<std::int64_t> away_since_ns_{kInLoop};
  std::atomic<_ts*> state_{nullptr};
  std::atomic<std::int64_t> held_ns_{0};
  std::mutex dump_mu_;  // held while frames are read without the lock

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool ended_ = false;
  std::atomic<bool> blocked_{false};
  std::string message_;
  std::thread thread_;
  std::thread helper_;  // the one that takes the interpreter lock
  // Helpers of the samples of shorter stretches (at most kMaxSamples).
  static constexpr int kMaxSamples = 16;
  std::vector<std::thread> samplers_;
  std::int64_t sampled_since_ = kInLoop;  // the stretch away last sampled
  HeldAt current_, held_at_;              // the stretch sampled last; the longest
};

}  // namespace loadpilot::scenario
