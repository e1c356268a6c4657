#include "agents/agent_process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "load/engine.h"

extern char** environ;

namespace loadpilot::agents {

namespace {

constexpr int kFramesFd = 3;
// An agent reports once a second; one silent this long is hung (stopped,
// deadlocked) and is ended rather than left to load the target unseen.
constexpr std::chrono::seconds kSilentAfter{5};
constexpr int kControlFd = 4;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string iterations(std::uint64_t n) {
  return fmt::format("{} iteration{}", n, n == 1 ? "" : "s");
}

// How many iterations of `profile` are due by `t` (k is due at time_of(k),
// which grows with k); past the end, all of them.
std::uint64_t due_by(const load::Profile& profile, double t) {
  std::uint64_t lo = 0;
  std::uint64_t hi = static_cast<std::uint64_t>(std::max(0.0, profile.total_iterations())) + 2;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    const std::optional<double> at = profile.time_of(mid);
    if (at && *at <= t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

}  // namespace

AgentProcess::AgentProcess(std::size_t index, std::size_t count, load::Profile profile,
                           bool closed_loop, const std::vector<std::string>& argv,
                           std::function<void()> on_drained)
    : index_(index),
      count_(count),
      profile_(std::move(profile)),
      closed_loop_(closed_loop),
      on_drained_(std::move(on_drained)) {
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
    exit_at_s_ = seconds_since_start();
    ended_early();
  }
  cv_.notify_all();
  if (on_drained_) on_drained_();
}

std::uint64_t AgentProcess::in_flight_unreported() const {
  const std::uint64_t ended = reported_finished_ + reported_cut_off_;
  return reported_started_ > ended ? reported_started_ - ended : 0;
}

void AgentProcess::check_silence() {
  if (!t0_ || exited_ || ended_ || kill_sent_ || silent_ || pid_ <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const auto last = std::max(*t0_, last_frame_at_.value_or(*t0_));
  if (now - last < kSilentAfter) return;
  silent_ = true;
  fmt::print(stderr,
             "error: agent {} of {} (pid {}) sent no report for {:.1f} s, {:.1f} s into the run; "
             "ending it{}\n",
             index_ + 1, count_, pid_, std::chrono::duration<double>(now - last).count(),
             std::max(0.0, seconds_since_start()),
             stop_sent_ ? "" : " (the run goes on without its share)");
  std::fflush(stderr);
  ::kill(pid_, SIGKILL);  // its EOF follows: it is counted as died
}

double AgentProcess::seconds_since_start() const {
  if (!t0_) return -1;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - *t0_).count();
}

void AgentProcess::ended_early() {
  if (!t0_ || kill_sent_) return;  // not started yet (wait_ready says so), or ended by us
  const bool died = !ended_;
  if (died && !silent_) {
    fmt::print(stderr, "error: agent {} of {} (pid {}) {} {:.1f} s into the run{}\n", index_ + 1,
               count_, pid_, how_it_ended(), std::max(0.0, exit_at_s_),
               stop_sent_     ? ""
               : closed_loop_ ? "; the run goes on without it"
                              : "; the run goes on without its share (counted as dropped)");
    std::fflush(stderr);
  }
  early_ = !stop_sent_ && (died || !fatal_.empty() || exit_at_s_ < profile_.total_s());
}

std::string AgentProcess::how_it_ended() const {
  if (silent_) return "stopped reporting and was ended";
  if (WIFSIGNALED(status_)) {
    const int sig = WTERMSIG(status_);
    const char* name = sigabbrev_np(sig);
    return name ? fmt::format("was killed by SIG{}", name)
                : fmt::format("was killed by signal {}", sig);
  }
  if (WIFEXITED(status_)) return fmt::format("exited with code {}", WEXITSTATUS(status_));
  return "ended";
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
      last_frame_at_ = std::chrono::steady_clock::now();
      reported_started_ += stats.iterations_started;
      reported_dropped_ += stats.dropped;
      reported_cut_off_ += stats.cut_off;
      for (const metrics::TaskStats& t : stats.tasks) reported_finished_ += t.iterations;
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
      blocked_ = frame.value("blocked", false);
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
    throw AgentError(fmt::format("agent {} (pid {}) {} before the run started", index_ + 1, pid_,
                                 how_it_ended()));
  }
  return tasks_;
}

void AgentProcess::start(std::chrono::steady_clock::time_point t0) {
  {
    std::lock_guard lock(mu_);
    t0_ = t0;
  }
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
    check_silence();
    r.stats = std::move(pending_);
    pending_ = metrics::IntervalStats();
    r.in_flight = exited_ ? 0 : in_flight_;
    r.connections = exited_ ? 0 : connections_;
    if (exited_ && early_ && !lost_counted_) {
      // Its share of the schedule (up to the coordinator's stop, if any)
      // that it had not reported started or dropped: never started, or
      // started unseen — either way not in the results.
      lost_counted_ = true;
      if (!closed_loop_) {
        const double horizon = stop_at_s_ >= 0 ? stop_at_s_ : profile_.total_s();
        const std::uint64_t due = load::share_of(due_by(profile_, horizon), index_, count_);
        const std::uint64_t due_at_end =
            load::share_of(due_by(profile_, std::min(horizon, exit_at_s_)), index_, count_);
        const std::uint64_t accounted = reported_started_ + reported_dropped_;
        lost_dropped_ = due > accounted ? due - accounted : 0;
        // With an end frame it reported all it started.
        if (!ended_)
          lost_unreported_ =
              std::min(lost_dropped_, due_at_end > accounted ? due_at_end - accounted : 0);
        r.stats.dropped += lost_dropped_;
      }
    }
    if (exited_ && !ended_ && !cut_off_counted_) {
      // Died: what it had in flight at its last report never ends.
      cut_off_counted_ = true;
      lost_cut_off_ = in_flight_unreported();
      r.stats.cut_off += lost_cut_off_;
    }
  }
  sink(std::move(r));
}

bool AgentProcess::signal(int sig) {
  std::lock_guard lock(mu_);
  if (exited_ || pid_ <= 0) return false;
  ::kill(pid_, sig);
  if (sig == SIGKILL) kill_sent_ = true;
  return true;
}

void AgentProcess::stop_arrivals() {
  {
    std::lock_guard lock(mu_);
    if (stop_sent_) return;
    stop_sent_ = true;
    stop_at_s_ = std::max(0.0, seconds_since_start());
  }
  signal(SIGINT);
}

void AgentProcess::abort() { signal(SIGKILL); }

void AgentProcess::join() {
  if (reader_.joinable()) reader_.join();
}

std::optional<AgentProcess::Loss> AgentProcess::loss() const {
  std::lock_guard lock(mu_);
  const bool died = exited_ && !ended_ && !kill_sent_ && t0_;
  if (!died && !early_) return std::nullopt;
  Loss loss;
  loss.agent = index_ + 1;
  loss.pid = pid_;
  loss.how = how_it_ended();
  loss.at_s = std::max(0.0, exit_at_s_);
  loss.dropped = lost_dropped_;
  loss.unreported = lost_unreported_;
  loss.cut_off = lost_cut_off_;
  return loss;
}

bool AgentProcess::python_blocked() const {
  std::lock_guard lock(mu_);
  return blocked_;
}

std::string AgentProcess::problem() const {
  const std::optional<Loss> lost = loss();
  std::lock_guard lock(mu_);
  const std::string who = fmt::format("agent {}", index_ + 1);
  std::string cost;
  if (lost) {
    cost = fmt::format("{} (pid {}) {} {:.1f} s into the run: {} of its share counted as dropped",
                       who, lost->pid, lost->how, lost->at_s, iterations(lost->dropped));
    if (lost->unreported > 0)
      cost += fmt::format(" ({} due before then, which it may have started unreported)",
                          lost->unreported);
    if (lost->cut_off > 0) cost += fmt::format(", {} in flight cut off", lost->cut_off);
  }
  if (!fatal_.empty()) return who + ": " + fatal_ + (cost.empty() ? "" : "\n  " + cost);
  if (!bad_frame_.empty()) return who + " sent a malformed frame: " + bad_frame_;
  return cost;
}

}  // namespace loadpilot::agents
