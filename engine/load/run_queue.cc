#include "load/run_queue.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

namespace loadpilot::load {

std::optional<std::uint64_t> parse_schedstat_wait(std::string_view text) {
  // Three unsigned decimal fields separated by single spaces, then a
  // newline; the second is the wait.
  std::uint64_t fields[3] = {};
  const char* p = text.data();
  const char* const end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (p == end || *p != ' ') return std::nullopt;
      ++p;
    }
    const auto [next, ec] = std::from_chars(p, end, fields[i]);
    if (ec != std::errc() || next == p) return std::nullopt;
    p = next;
  }
  if (p != end && *p != '\n') return std::nullopt;
  return fields[1];
}

std::string schedstat_path(pid_t tid) {
  return "/proc/self/task/" + std::to_string(tid) + "/schedstat";
}

std::optional<std::uint64_t> read_schedstat_wait(const char* path) {
  // Plain system calls, no stream: three calls and no allocation, once a
  // second per thread.
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[128];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  return parse_schedstat_wait(std::string_view(buf, static_cast<std::size_t>(n)));
}

std::optional<double> RunQueueWait::share(std::uint64_t wait_before_ns, std::uint64_t wait_now_ns,
                                          Clock::duration wall) {
  const auto wall_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wall).count();
  if (wall_ns <= 0 || wait_now_ns < wait_before_ns) return std::nullopt;
  return std::min(1.0,
                  static_cast<double>(wait_now_ns - wait_before_ns) / static_cast<double>(wall_ns));
}

std::optional<double> RunQueueWait::sample(Clock::time_point now) {
  const std::optional<std::uint64_t> wait = read_schedstat_wait(path_.c_str());
  std::optional<double> out;
  if (wait && last_wait_) out = share(*last_wait_, *wait, now - last_at_);
  last_wait_ = wait;
  last_at_ = now;
  return out;
}

}  // namespace loadpilot::load
