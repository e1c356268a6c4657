// The pipes between a coordinator and a child run (cluster/child_run.h,
// cluster/transport/pipe_channel.h): the child writes its frames on fd 3
// and reads "go T0_NS" on fd 4. The child's end (pipe_end) is tested in
// this process with real pipes put on fds 3 and 4; the coordinator's end
// (PipeChannel) with a real child — a shell that speaks the protocol — so
// that both ends are shown to agree on every line, and an AgentLink over
// it keeps exact books of an agent killed mid-run.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

#include "cluster/child_run.h"
#include "cluster/coordinator/agent_link.h"
#include "cluster/transport/pipe_channel.h"
#include "fake_channel.h"
#include "load/profile.h"
#include "plan/plan.h"

namespace loadpilot::agents {
namespace {

using std::chrono::milliseconds;
using SteadyNs = std::chrono::nanoseconds;

// Real pipes on this process's fds 3 and 4, as a child run has them; what
// was there before comes back afterwards. SIGPIPE is ignored meanwhile, as
// in the loadpilot process (a write to a gone parent fails instead).
class ChildEnd {
 public:
  ChildEnd() {
    for (int fd : {3, 4}) {
      saved_[fd - 3] = fcntl(fd, F_DUPFD_CLOEXEC, 10);
      // Taken, so that the pipes below get other numbers.
      if (saved_[fd - 3] < 0) dup2(STDERR_FILENO, fd);
    }
    int frames[2], control[2];
    EXPECT_EQ(pipe2(frames, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(control, O_CLOEXEC), 0);
    dup2(frames[1], pipe_end::kFramesFd);
    dup2(control[0], pipe_end::kControlFd);
    ::close(frames[1]);
    ::close(control[0]);
    frames_ = frames[0];
    control_ = control[1];
    old_pipe_ = ::signal(SIGPIPE, SIG_IGN);
  }
  ~ChildEnd() {
    ::signal(SIGPIPE, old_pipe_);
    close_parent_read();
    close_parent_write();
    for (int fd : {3, 4}) {
      if (saved_[fd - 3] >= 0) {
        dup2(saved_[fd - 3], fd);
        ::close(saved_[fd - 3]);
      } else {
        ::close(fd);
      }
    }
  }
  // The parent's side.
  void send(const std::string& text) {
    ASSERT_EQ(::write(control_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  std::string receive() {
    char buf[4096];
    const ssize_t n = ::read(frames_, buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  void close_parent_write() {
    if (control_ >= 0) ::close(control_);
    control_ = -1;
  }
  void close_parent_read() {
    if (frames_ >= 0) ::close(frames_);
    frames_ = -1;
  }

 private:
  int saved_[2] = {-1, -1};
  int frames_ = -1, control_ = -1;
  sighandler_t old_pipe_ = SIG_DFL;
};

TEST(ChildPipes, TheChildSaysHelloOnFd3AndReadsGoOnFd4) {
  ChildEnd pipes;
  EXPECT_TRUE(pipe_end::open());
  EXPECT_TRUE(pipe_end::write_line(R"({"type":"hello","tasks":["health"]})"));
  EXPECT_EQ(pipes.receive(), "{\"type\":\"hello\",\"tasks\":[\"health\"]}\n");
  pipes.send("go 123456789\n");
  EXPECT_EQ(pipe_end::read_go(), SteadyClock::time_point(SteadyNs(123456789)));
  // Anything but "go <integer>" is no start.
  for (const char* line : {"stop\n", "go\n", "go soon\n", "GO 1\n"}) {
    pipes.send(line);
    EXPECT_FALSE(pipe_end::read_go()) << line;
  }
  pipes.send("a line\npartial");
  EXPECT_EQ(pipe_end::read_line(), "a line");
  // The parent gone: the control pipe ends, and so do the frames.
  pipes.close_parent_write();
  EXPECT_FALSE(pipe_end::read_line());
  EXPECT_FALSE(pipe_end::read_go());
  pipes.close_parent_read();
  EXPECT_FALSE(pipe_end::write_line(R"({"type":"end"})"));
}

TEST(ChildPipes, WithoutItsPipesAProcessIsNoChildRun) {
  ChildEnd pipes;
  ::close(pipe_end::kControlFd);
  EXPECT_FALSE(pipe_end::open());
}

// A real child: records what its PipeChannel delivers, and its end.
struct Child {
  explicit Child(const std::string& script)
      : channel(PipeChannelOptions{{"/bin/sh", "-c", script}, 1, 3, true, false, {}}) {}
  void open() {
    channel.open(
        [this](std::string_view line) {
          std::lock_guard lock(mu);
          lines.emplace_back(line);
        },
        [this](std::string how) {
          std::lock_guard lock(mu);
          closed = std::move(how);
          cv.notify_all();
        });
  }
  // Its end (join() returns after on_closed).
  std::string wait_closed() {
    channel.join();
    std::lock_guard lock(mu);
    return closed.value_or("");
  }
  PipeChannel channel;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> lines;
  std::optional<std::string> closed;
};

// The go line PipeChannel writes is the one pipe_end reads: the child
// sends back what it was given, and it parses to the same instant.
TEST(ChildPipes, TheCoordinatorsGoIsTheLineTheChildReads) {
  Child child(R"(IFS= read -r go <&4; printf '%s\n' "$go" >&3; exit 3)");
  child.open();
  const SteadyClock::time_point t0(SteadyNs(987654321012345));
  child.channel.go(t0);
  EXPECT_EQ(child.wait_closed(), "exited with code 3");
  ASSERT_EQ(child.lines.size(), 1u);
  EXPECT_EQ(child.lines[0], "go 987654321012345");
  ChildEnd pipes;
  pipes.send(child.lines[0] + "\n");
  EXPECT_EQ(pipe_end::read_go(), t0);
  EXPECT_EQ(child.channel.who(), fmt::format("agent 2 of 3 (pid {})", child.channel.pid()));
  EXPECT_TRUE(child.channel.ends_when_silent());
}

TEST(ChildPipes, HowAChildEndedIsSaidInWords) {
  Child stopped("IFS= read -r go <&4");
  stopped.open();
  EXPECT_TRUE(stopped.channel.signal(0));  // alive
  stopped.channel.stop();
  EXPECT_EQ(stopped.wait_closed(), "was killed by SIGINT");
  EXPECT_FALSE(stopped.channel.signal(0));  // reaped: nothing is signalled
  Child killed("IFS= read -r go <&4");
  killed.open();
  killed.channel.kill();
  EXPECT_EQ(killed.wait_closed(), "was killed by SIGKILL");
}

// An agent over real pipes: its hello, its start, one round with two
// iterations in flight, then it is killed. The link's books are exact:
// its share is started or dropped, what it started finished or cut off.
TEST(ChildPipes, AnAgentKilledOnItsPipesHasExactBooks) {
  const std::string round = test_support::round_frame(1, 8, 6, 2);
  const std::string script =
      "printf '%s\\n' '{\"type\":\"hello\",\"tasks\":[\"health\"]}' >&3\n"
      "IFS= read -r go <&4\n"
      "printf '%s\\n' '" +
      round +
      "' >&3\n"
      "kill -9 $$\n";
  auto channel = std::make_unique<PipeChannel>(
      PipeChannelOptions{{"/bin/sh", "-c", script}, 0, 1, true, false, {}});
  const long long pid = channel->pid();
  plan::ProfileSpec spec;
  spec.mode = plan::Mode::kConstant;
  spec.rps = 10;
  spec.duration_s = 10;
  spec.ramp_up_s = 0;
  const SteadyClock::time_point t0 = SteadyClock::now();
  EndOfRun end;
  // The clock stands 1.5 s into the run whenever the link reads it.
  end.now = [t0] { return t0 + milliseconds(1500); };
  std::mutex mu;
  std::condition_variable cv;
  bool drained = false;
  AgentLink link(
      0, 1, load::Profile::from_spec(spec), false, std::move(channel), milliseconds(5000),
      [&] {
        std::lock_guard lock(mu);
        drained = true;
        cv.notify_all();
      },
      end);
  EXPECT_EQ(link.wait_ready(milliseconds(10000)), std::vector<std::string>{"health"});
  link.start(t0);
  link.join();
  EXPECT_TRUE(drained);
  std::uint64_t started = 0, finished = 0, dropped = 0, cut_off = 0;
  link.report([&](metrics::WorkerReport&& r) {
    started += r.stats.iterations_started;
    dropped += r.stats.dropped;
    cut_off += r.stats.cut_off;
    for (const metrics::TaskStats& t : r.stats.tasks) finished += t.iterations;
  });
  EXPECT_EQ(started, 8u);
  EXPECT_EQ(finished, 6u);
  EXPECT_EQ(cut_off, 2u);
  EXPECT_EQ(started + dropped, 100u);
  const auto loss = link.loss();
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->how, "was killed by SIGKILL");
  EXPECT_EQ(loss->pid, pid);
  EXPECT_DOUBLE_EQ(loss->at_s, 1.5);
  EXPECT_EQ(loss->dropped, 92u);
  EXPECT_EQ(loss->cut_off, 2u);
}

}  // namespace
}  // namespace loadpilot::agents
