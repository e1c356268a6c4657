#include "cluster/transport/pipe_channel.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace loadpilot::agents {

namespace {

constexpr int kFramesFd = 3;
constexpr int kControlFd = 4;
constexpr std::size_t kStderrKept = 16 * 1024;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Starts a thread that takes no signals: SIGINT/SIGTERM are for the
// process's signal watcher, which may start only after this thread.
template <typename F>
std::thread quiet_thread(F&& f) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  std::thread t(std::forward<F>(f));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

}  // namespace

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return name ? fmt::format("was killed by SIG{}", name)
                : fmt::format("was killed by signal {}", sig);
  }
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  return "ended";
}

PipeChannel::PipeChannel(PipeChannelOptions options) : options_(std::move(options)) {
  int frames[2], control[2], err[2] = {-1, -1};
  if (pipe2(frames, O_CLOEXEC) != 0) throw std::runtime_error(std::strerror(errno));
  if (pipe2(control, O_CLOEXEC) != 0 || (options_.keep_stderr && pipe2(err, O_CLOEXEC) != 0)) {
    const int e = errno;
    for (int fd : {frames[0], frames[1], control[0], control[1]}) ::close(fd);
    throw std::runtime_error(std::strerror(e));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears FD_CLOEXEC on the copy: fds 3 and 4 survive the exec.
  posix_spawn_file_actions_adddup2(&actions, frames[1], kFramesFd);
  posix_spawn_file_actions_adddup2(&actions, control[0], kControlFd);
  if (options_.keep_stderr) posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  if (!options_.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options_.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (options_.own_group) flags |= POSIX_SPAWN_SETPGROUP;
  posix_spawnattr_setflags(&attr, flags);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  std::vector<char*> args;
  for (const std::string& a : options_.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int rc = posix_spawn(&pid_, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(frames[1]);
  ::close(control[0]);
  if (err[1] >= 0) ::close(err[1]);
  frames_fd_ = frames[0];
  control_fd_ = control[1];
  stderr_fd_ = err[0];
  if (rc != 0) {
    close_fd(frames_fd_);
    close_fd(control_fd_);
    close_fd(stderr_fd_);
    pid_ = -1;
    throw std::runtime_error(
        fmt::format("cannot start agent {}: {}", options_.index + 1, std::strerror(rc)));
  }
  if (stderr_fd_ >= 0) stderr_reader_ = quiet_thread([this] { read_stderr(); });
}

PipeChannel::~PipeChannel() {
  kill();
  if (!reader_.joinable() && pid_ > 0) {
    // Never opened: nobody reaps the child but us.
    close_fd(frames_fd_);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  join();
  if (stderr_reader_.joinable()) stderr_reader_.join();
  close_fd(control_fd_);
}

void PipeChannel::open(std::function<void(std::string_view)> on_line,
                       std::function<void(std::string)> on_closed) {
  reader_ = quiet_thread(
      [this, on_line = std::move(on_line), on_closed = std::move(on_closed)]() mutable {
        read_frames(std::move(on_line), std::move(on_closed));
      });
}

void PipeChannel::read_frames(std::function<void(std::string_view)> on_line,
                              std::function<void(std::string)> on_closed) {
  std::string buffer;
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(frames_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1)
      on_line(std::string_view(buffer).substr(start, nl - start));
    buffer.erase(0, start);
  }
  close_fd(frames_fd_);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  {
    std::lock_guard lock(mu_);
    exited_ = true;
  }
  // The child's last words on stderr come before the news of its end.
  if (stderr_reader_.joinable()) stderr_reader_.join();
  on_closed(describe_exit(status));
}

void PipeChannel::read_stderr() {
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::read(stderr_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    (void)!::write(STDERR_FILENO, chunk, static_cast<std::size_t>(n));
    std::lock_guard lock(mu_);
    stderr_tail_.append(chunk, static_cast<std::size_t>(n));
    if (stderr_tail_.size() > kStderrKept) stderr_tail_.erase(0, stderr_tail_.size() - kStderrKept);
  }
  close_fd(stderr_fd_);
}

std::string PipeChannel::stderr_tail() const {
  std::lock_guard lock(mu_);
  return stderr_tail_;
}

void PipeChannel::go(std::chrono::steady_clock::time_point t0) {
  const std::string line = fmt::format(
      "go {}\n",
      std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count());
  // A child that is gone already shows up as closed; nothing to do here
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

bool PipeChannel::signal(int sig) {
  std::lock_guard lock(mu_);
  if (exited_ || pid_ <= 0) return false;
  ::kill(pid_, sig);
  return true;
}

void PipeChannel::stop() { signal(SIGINT); }
void PipeChannel::kill() { signal(SIGKILL); }

void PipeChannel::join() {
  if (reader_.joinable()) reader_.join();
}

std::string PipeChannel::who() const {
  return fmt::format("agent {} of {} (pid {})", options_.index + 1, options_.count, pid_);
}

}  // namespace loadpilot::agents
