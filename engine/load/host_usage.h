#pragma once
// HostUsage: what this process and its machine did between two samples —
// the process's CPU time per core it may run on, and the machine's steal
// time (CPU time a hypervisor gave to other guests). Part of the generator's
// health (docs/engine.md#generator-health); sampled once a second by the
// collecting thread, never on a worker's hot path.
//
// Thread-safety: one owner; not thread-safe. Reads getrusage() and
// /proc/stat; where /proc/stat cannot be read, steal reads 0.
#include <chrono>
#include <cstdint>

namespace loadpilot::load {

class HostUsage {
 public:
  struct Sample {
    double cpu = 0;    // process CPU time / (wall time × usable cores), 0..1
    double steal = 0;  // machine steal ticks / all ticks, 0..1
  };

  HostUsage();
  // Since the previous call (or construction).
  Sample sample();
  // The cores this process may run on (its affinity mask), at least 1.
  unsigned cores() const { return cores_; }

 private:
  struct Ticks {
    std::uint64_t steal = 0, total = 0;
  };
  static Ticks read_ticks();
  static std::chrono::nanoseconds process_cpu();

  unsigned cores_ = 1;
  std::chrono::steady_clock::time_point wall_;
  std::chrono::nanoseconds cpu_{0};
  Ticks ticks_;
};

}  // namespace loadpilot::load
