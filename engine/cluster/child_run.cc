#include "cluster/child_run.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace loadpilot::agents {

namespace {

void add(std::vector<std::string>& a, const char* flag, const std::string& value) {
  a.insert(a.end(), {flag, value});
}

template <typename T>
void add_given(std::vector<std::string>& a, const char* flag, const std::optional<T>& value) {
  if (!value) return;
  if constexpr (std::is_same_v<T, std::string>)
    add(a, flag, *value);
  else
    add(a, flag, std::to_string(*value));
}

}  // namespace

std::vector<std::string> command_line(const ChildRun& r) {
  std::vector<std::string> a = {self_exe(), "run", "--target", r.target, "--scenario", r.scenario};
  if (!r.plan_file.empty()) add(a, "--plan-file", r.plan_file);
  add_given(a, "--rps", r.rps);
  add_given(a, "--duration", r.duration);
  add_given(a, "--ramp-up", r.ramp_up);
  add_given(a, "--mode", r.mode);
  add_given(a, "--steps", r.steps);
  add_given(a, "--users", r.users);
  if (r.external_agents > 0) {
    add(a, "--external-agents", std::to_string(r.external_agents));
    add(a, "--agents-timeout", r.agents_timeout);
    add(a, "--agent-lost-after", r.agent_lost_after);
  }
  if (r.max_vusers > 0) add(a, "--max-vusers", std::to_string(r.max_vusers));
  add(a, "--max-connections", std::to_string(r.max_connections));
  if (r.workers > 0) add(a, "--workers", std::to_string(r.workers));
  add(a, "--timeout", r.timeout);
  add(a, "--drain", r.drain);
  add(a, "--seed", std::to_string(r.seed));
  a.insert(a.end(), {"--no-metrics", "--no-report"});
  if (r.serve_child) {
    a.insert(a.end(), {"--output", "ndjson", "--no-color", "--serve-child"});
    if (!r.results_json.empty()) add(a, "--results-json", r.results_json);
  } else {
    add(a, "--output", "text");
  }
  if (r.share) add(a, "--agent", fmt::format("{}/{}", r.share->index + 1, r.share->count));
  if (r.insecure) a.push_back("--insecure");
  if (!r.http_version.empty()) add(a, "--http-version", r.http_version);
  // The file last, after "--": a name that starts with '-' is a file, not
  // an option.
  a.insert(a.end(), {"--", r.file});
  return a;
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("loadpilot");
}

namespace pipe_end {

bool open() { return fcntl(kFramesFd, F_GETFD) >= 0 && fcntl(kControlFd, F_GETFD) >= 0; }

bool write_line(const std::string& line) {
  const std::string data = line + "\n";
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(kFramesFd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<std::string> read_line() {
  std::string line;
  char c;
  for (;;) {
    const ssize_t n = ::read(kControlFd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    if (c == '\n') return line;
    line.push_back(c);
  }
}

std::optional<std::chrono::steady_clock::time_point> read_go() {
  const std::optional<std::string> line = read_line();
  long long t0_ns = 0;
  if (!line || line->rfind("go ", 0) != 0 ||
      std::from_chars(line->data() + 3, line->data() + line->size(), t0_ns).ec != std::errc())
    return std::nullopt;
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(t0_ns));
}

}  // namespace pipe_end

}  // namespace loadpilot::agents
