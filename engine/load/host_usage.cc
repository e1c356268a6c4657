#include "load/host_usage.h"

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace loadpilot::load {

HostUsage::HostUsage() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    cores_ = static_cast<unsigned>(std::max(1, CPU_COUNT(&set)));
  wall_ = std::chrono::steady_clock::now();
  cpu_ = process_cpu();
  ticks_ = read_ticks();
}

std::chrono::nanoseconds HostUsage::process_cpu() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return {};
  auto tv = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return tv(u.ru_utime) + tv(u.ru_stime);
}

HostUsage::Ticks HostUsage::read_ticks() {
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice";
  // guest time is already inside user, so it is not added again.
  std::ifstream in("/proc/stat");
  std::string line;
  Ticks t;
  if (!in || !std::getline(in, line) || line.rfind("cpu ", 0) != 0) return t;
  std::istringstream fields(line.substr(4));
  std::uint64_t v = 0;
  for (int i = 0; i < 8 && fields >> v; ++i) {
    t.total += v;
    if (i == 7) t.steal = v;
  }
  return t;
}

HostUsage::Sample HostUsage::sample() {
  const auto now = std::chrono::steady_clock::now();
  const auto cpu = process_cpu();
  const Ticks ticks = read_ticks();
  Sample s;
  const double wall = std::chrono::duration<double>(now - wall_).count();
  if (wall > 0)
    s.cpu =
        std::clamp(std::chrono::duration<double>(cpu - cpu_).count() / (wall * cores_), 0.0, 1.0);
  if (ticks.total > ticks_.total && ticks.steal >= ticks_.steal)
    s.steal = static_cast<double>(ticks.steal - ticks_.steal) /
              static_cast<double>(ticks.total - ticks_.total);
  wall_ = now;
  cpu_ = cpu;
  ticks_ = ticks;
  return s;
}

}  // namespace loadpilot::load
