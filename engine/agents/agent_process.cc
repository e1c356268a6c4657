#include "agents/agent_process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

extern char** environ;

namespace loadpilot::agents {

namespace {

constexpr int kFramesFd = 3;
constexpr int kControlFd = 4;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

AgentProcess::AgentProcess(std::size_t index, const std::vector<std::string>& argv,
                           std::function<void()> on_drained)
    : index_(index), on_drained_(std::move(on_drained)) {
  int frames[2], control[2];
  if (pipe2(frames, O_CLOEXEC) != 0) throw AgentError(std::strerror(errno));
  if (pipe2(control, O_CLOEXEC) != 0) {
    ::close(frames[0]);
    ::close(frames[1]);
    throw AgentError(std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears FD_CLOEXEC on the copy: fds 3 and 4 survive the exec.
  posix_spawn_file_actions_adddup2(&actions, frames[1], kFramesFd);
  posix_spawn_file_actions_adddup2(&actions, control[0], kControlFd);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int rc = posix_spawn(&pid_, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(frames[1]);
  ::close(control[0]);
  frames_fd_ = frames[0];
  control_fd_ = control[1];
  if (rc != 0) {
    close_fd(frames_fd_);
    close_fd(control_fd_);
    throw AgentError(fmt::format("cannot start agent {}: {}", index_ + 1, std::strerror(rc)));
  }
  // The reader takes no signals: SIGINT/SIGTERM are for the coordinator's
  // signal watcher, which may start only after this thread.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  reader_ = std::thread([this] { read_frames(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

AgentProcess::~AgentProcess() {
  abort();
  join();
  close_fd(control_fd_);
}

void AgentProcess::read_frames() {
  std::string buffer;
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(frames_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1)
      handle(buffer.substr(start, nl - start));
    buffer.erase(0, start);
  }
  close_fd(frames_fd_);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  {
    std::lock_guard lock(mu_);
    status_ = status;
    exited_ = true;
  }
  cv_.notify_all();
  if (on_drained_) on_drained_();
}

void AgentProcess::handle(const std::string& line) {
  nlohmann::json frame;
  std::string type;
  try {
    frame = nlohmann::json::parse(line);
    type = frame.at("type").get<std::string>();
    if (type == "round") {
      metrics::IntervalStats stats = metrics::IntervalStats::from_json(frame.at("stats"));
      std::lock_guard lock(mu_);
      pending_.merge(stats);
      in_flight_ = frame.value("in_flight", std::uint64_t{0});
      connections_ = frame.value("connections", std::uint64_t{0});
    } else if (type == "hello") {
      std::lock_guard lock(mu_);
      tasks_ = frame.at("tasks").get<std::vector<std::string>>();
      ready_ = true;
    } else if (type == "end") {
      std::lock_guard lock(mu_);
      ended_ = true;
      fatal_ = frame.value("fatal", std::string());
    }
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    if (bad_frame_.empty()) bad_frame_ = e.what();
    return;
  }
  cv_.notify_all();
}

std::vector<std::string> AgentProcess::wait_ready(std::chrono::seconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return ready_ || exited_; })) {
    throw AgentError(
        fmt::format("agent {} did not start within {} s", index_ + 1, timeout.count()));
  }
  if (!ready_) {
    throw AgentError(fmt::format("agent {} ended before it started ({})", index_ + 1,
                                 WIFEXITED(status_)
                                     ? fmt::format("exit status {}", WEXITSTATUS(status_))
                                     : fmt::format("signal {}", WTERMSIG(status_))));
  }
  return tasks_;
}

void AgentProcess::start(std::chrono::steady_clock::time_point t0) {
  const std::string line = fmt::format(
      "go {}\n",
      std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count());
  // A child that is gone already shows up as drained; nothing to do here
  // but keep its closed pipe from raising SIGPIPE in this process.
  sigset_t pipe_signal, old;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &old);
  const ssize_t n = ::write(control_fd_, line.data(), line.size());
  if (n < 0 && errno == EPIPE) {
    const timespec now{0, 0};
    sigtimedwait(&pipe_signal, nullptr, &now);  // the pending one, if any
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void AgentProcess::report(std::function<void(metrics::WorkerReport&&)> sink) {
  metrics::WorkerReport r;
  {
    std::lock_guard lock(mu_);
    r.stats = std::move(pending_);
    pending_ = metrics::IntervalStats();
    r.in_flight = exited_ ? 0 : in_flight_;
    r.connections = exited_ ? 0 : connections_;
  }
  sink(std::move(r));
}

void AgentProcess::signal(int sig) {
  std::lock_guard lock(mu_);
  if (!exited_ && pid_ > 0) ::kill(pid_, sig);
}

void AgentProcess::stop_arrivals() {
  {
    std::lock_guard lock(mu_);
    if (stop_sent_) return;
    stop_sent_ = true;
  }
  signal(SIGINT);
}

void AgentProcess::abort() { signal(SIGKILL); }

void AgentProcess::join() {
  if (reader_.joinable()) reader_.join();
}

std::string AgentProcess::problem() const {
  std::lock_guard lock(mu_);
  const std::string who = fmt::format("agent {}", index_ + 1);
  if (!fatal_.empty()) return who + ": " + fatal_;
  if (!bad_frame_.empty()) return who + " sent a malformed frame: " + bad_frame_;
  if (!exited_ || ended_) return "";
  if (WIFSIGNALED(status_) && WTERMSIG(status_) != SIGKILL)
    return fmt::format("{} was ended by signal {}", who, WTERMSIG(status_));
  if (WIFEXITED(status_) && WEXITSTATUS(status_) != 0)
    return fmt::format("{} ended with exit status {} before its results", who,
                       WEXITSTATUS(status_));
  return "";
}

}  // namespace loadpilot::agents
