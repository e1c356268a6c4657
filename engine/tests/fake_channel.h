#pragma once
// Test support for the coordinator's roles (cluster/coordinator/agent_link.h):
// a Channel whose agent is the test. The test delivers the frames an agent
// sends (hello, rounds by sequence number, end, failed, or any text), closes
// the channel as a dead agent's would, and reads what the link sent it
// (go, stop, kill). With EndOfRun::now pointed at a clock the test moves,
// a run of any length is played in microseconds, without threads.
//
// kill() closes the channel at once, as NatsChannel does, unless
// `closes_later` (a pipe: the close follows when the process is gone,
// which the test says with close()). A pipe agent (`pipe`) is ended when
// silent: AgentLink kills it under its lock, so a pipe fake must close
// later, as a real pipe does.
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/transport/channel.h"
#include "metrics/stats.h"

namespace loadpilot::test_support {

class FakeChannel : public agents::Channel {
 public:
  explicit FakeChannel(bool closes_later = false, bool pipe = false,
                       std::string who = "agent a2 (2 of 2)", long long pid = -1)
      : closes_later_(closes_later || pipe), pipe_(pipe), who_(std::move(who)), pid_(pid) {}

  void open(std::function<void(std::string_view)> on_line,
            std::function<void(std::string)> on_closed) override {
    on_line_ = std::move(on_line);
    on_closed_ = std::move(on_closed);
  }
  void go(std::chrono::steady_clock::time_point t0) override { gos.push_back(t0); }
  void stop() override { ++stops; }
  void kill() override {
    ++kills;
    if (!closes_later_) close("was ended by the coordinator");
  }
  void join() override {}
  std::string who() const override { return who_; }
  bool ends_when_silent() const override { return pipe_; }
  long long process_id() const override { return pid_; }

  // What the agent sends.
  // Delivered even after close(): a test may check that the link counts
  // nothing that comes late.
  void send(const std::string& line) { on_line_(line); }
  void hello(const std::vector<std::string>& tasks) {
    send(nlohmann::json{{"type", "hello"}, {"tasks", tasks}}.dump());
  }
  void end(std::uint64_t rounds, const std::string& fatal = "", bool blocked = false) {
    send(nlohmann::json{{"type", "end"}, {"fatal", fatal}, {"blocked", blocked}, {"rounds", rounds}}
             .dump());
  }
  void failed(const std::string& error) {
    send(nlohmann::json{{"type", "failed"}, {"error", error}}.dump());
  }
  // The agent is gone: `how` as a channel says it ("was killed by SIGKILL").
  void close(const std::string& how) {
    if (closed_) return;
    closed_ = true;
    on_closed_(how);
  }
  bool closed() const { return closed_; }

  // What the link sent.
  std::vector<std::chrono::steady_clock::time_point> gos;
  int kills = 0, stops = 0;

 private:
  bool closes_later_, pipe_;
  std::string who_;
  long long pid_;
  bool closed_ = false;
  std::function<void(std::string_view)> on_line_;
  std::function<void(std::string)> on_closed_;
};

// A round frame of one task: `started` iterations began in it, `finished`
// ended (one request each), `in_flight` were running at its end.
inline std::string round_frame(std::uint64_t seq, std::uint64_t started, std::uint64_t finished,
                               std::uint64_t in_flight, std::uint64_t dropped = 0) {
  metrics::IntervalStats s;
  s.tasks.resize(1);
  s.iterations_started = started;
  s.dropped = dropped;
  s.tasks[0].iterations = finished;
  s.tasks[0].requests = finished;
  s.tasks[0].wire_iterations = finished;
  return nlohmann::json{
      {"type", "round"}, {"seq", seq}, {"stats", s.to_json()}, {"in_flight", in_flight}}
      .dump();
}

}  // namespace loadpilot::test_support
