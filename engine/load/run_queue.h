#pragma once
// RunQueueWait: the share of wall time one thread spent runnable but not
// running — on a run queue, waiting for a CPU that other threads or
// processes held. Part of the generator's health
// (docs/engine.md#generator-health): a generator starved of CPU by other
// processes wakes late by a few milliseconds at a time, under the event-loop
// lag at which a stall is named, and uses little CPU itself; only the time
// it waited tells its machine, not the target, held it back.
//
// The kernel keeps the figure per thread (/proc/<pid>/task/<tid>/schedstat,
// second field, nanoseconds; /proc/thread-self/schedstat for the calling
// thread). Reading it is one open, read and close: done once a second per
// thread, never per request.
//
// Thread-safety: one owner; not thread-safe. Where the file cannot be read
// (a kernel without schedstat), sample() returns nothing and the figure
// stays 0.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loadpilot::load {

// The run-queue wait of a schedstat line ("<on-cpu ns> <waiting ns>
// <timeslices>"): its second field, or nullopt when the text is not such a
// line.
std::optional<std::uint64_t> parse_schedstat_wait(std::string_view text);

// The schedstat file of the calling thread, and of thread `tid` of this
// process (readable from any of its threads).
inline constexpr const char* kOwnSchedstat = "/proc/thread-self/schedstat";
std::string schedstat_path(pid_t tid);

// The run-queue wait in the file at `path`, or nullopt where it cannot be
// read or parsed.
std::optional<std::uint64_t> read_schedstat_wait(const char* path);

class RunQueueWait {
 public:
  using Clock = std::chrono::steady_clock;
  // Reading `path` (kOwnSchedstat: on the thread itself).
  explicit RunQueueWait(std::string path = kOwnSchedstat) : path_(std::move(path)) {}

  // The share of the wall time since the previous sample that the thread
  // waited on a run queue, 0..1; nullopt on the first call (it only marks
  // the start) and where the file cannot be read.
  std::optional<double> sample(Clock::time_point now = Clock::now());

  // The same, from figures already read: pure, for tests.
  static std::optional<double> share(std::uint64_t wait_before_ns, std::uint64_t wait_now_ns,
                                     Clock::duration wall);

 private:
  std::string path_;
  std::optional<std::uint64_t> last_wait_;
  Clock::time_point last_at_{};
};

}  // namespace loadpilot::load
