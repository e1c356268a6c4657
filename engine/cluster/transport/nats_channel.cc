#include "cluster/transport/nats_channel.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "cluster/frame.h"
#include "cluster/protocol.h"

namespace loadpilot::agents {

NatsChannel::NatsChannel(NatsClient& nats, std::string run_id, std::size_t index, std::size_t count,
                         std::string agent_id, std::chrono::nanoseconds clock_offset)
    : nats_(nats),
      run_id_(std::move(run_id)),
      index_(index),
      count_(count),
      agent_id_(std::move(agent_id)),
      offset_(clock_offset) {
  sub_ = nats_.subscribe(protocol::frames_subject(run_id_, index_),
                         [this](NatsMessage&& m) { deliver(m.data); });
}

NatsChannel::~NatsChannel() {
  sub_.reset();  // no delivery runs after this
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
  if (closer_.joinable()) closer_.join();
}

void NatsChannel::deliver(const std::string& data) {
  // Read once here, not once to check the run and again to handle it: at
  // 1,000 agents every reading of their 10 KB frames costs the shared
  // delivery threads time they lack before the coordinator's round.
  std::optional<Frame> frame;
  std::string run_id;
  try {
    frame = parse_frame(data);
    run_id = frame->run_id;
  } catch (const FrameError&) {
    // Not a valid frame: AgentLink names it as a problem if it is this
    // run's; one that is not JSON at all is not this channel's.
    try {
      const nlohmann::json j = nlohmann::json::parse(data);
      const auto run = j.find("run_id");
      if (run != j.end() && run->is_string()) run_id = *run;
    } catch (const std::exception&) {
      return;
    }
  }
  std::lock_guard lock(mu_);
  if (closed_) return;
  // Frames of another run are not this channel's.
  if (run_id != run_id_) return;
  // An agent heard from after a silence was likely cut off from the server
  // (its link went down, it was suspended), and so has not heard our
  // heartbeats either: it gives up its share once it has heard nothing for
  // kCoordinatorSilence. Answer its return at once rather than on the next
  // once-a-second beat, which may come after that; on its own control
  // subject, so that many agents back at once (a server restart) cost one
  // small message each, not one to every agent each.
  const auto now = std::chrono::steady_clock::now();
  if (heard_at_ && now - *heard_at_ > kReturnAfter) send_now("heartbeat");
  heard_at_ = now;
  if (!opened_) {
    early_.push_back(data);
    return;
  }
  handle(data, frame ? &*frame : nullptr);
}

void NatsChannel::handle(const std::string& data, Frame* parsed) {
  Frame f;
  if (parsed != nullptr) {
    f = std::move(*parsed);
  } else {
    try {
      f = parse_frame(data);
    } catch (const FrameError&) {
      // AgentLink reads it again, drops it and counts it as a problem.
      on_frame_(data, nullptr);
      return;
    }
  }
  if (f.type == Frame::Type::kPing) {
    // The agent was suspended and asks whether its coordinator is still
    // there before it gives up its share: a heartbeat says so.
    nats_.publish(protocol::heartbeat_subject(run_id_), nlohmann::json{{"run_id", run_id_}}.dump());
    return;
  }
  if (f.type == Frame::Type::kExit) {
    if (exit_how_) return;  // a repeat
    exit_how_ = f.how;
    if (seen_.size() >= known_) {
      close(*exit_how_);
      return;
    }
    // Rounds are missing: give them kResendWait to come.
    ask_again();
    closer_ = std::thread([this] {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, kResendWait, [&] { return closed_ || seen_.size() >= known_; });
      if (!closed_) close(*exit_how_);
    });
    return;
  }
  if (f.type == Frame::Type::kRound) {
    if (!seen_.insert(f.seq).second) return;  // passed on already
    known_ = std::max(known_, f.seq);
  } else if (f.type == Frame::Type::kEnd) {
    known_ = std::max(known_, f.rounds);
  }
  // Handed on as read: at 1,000 agents a second reading of every 10 KB
  // frame cost the shared delivery threads the time they lacked.
  on_frame_(data, &f);
  if (seen_.size() < known_) {
    ask_again();
  } else if (exit_how_) {
    cv_.notify_all();  // the last missing round came: close now
  }
}

void NatsChannel::ask_again() {
  const auto now = std::chrono::steady_clock::now();
  if (asked_at_ && now - *asked_at_ < std::chrono::seconds(1)) return;
  asked_at_ = now;
  std::vector<std::uint64_t> missing;
  for (std::uint64_t seq = 1; seq <= known_ && missing.size() < 1000; ++seq)
    if (seen_.count(seq) == 0) missing.push_back(seq);
  const nlohmann::json j = {{"type", "resend"}, {"run_id", run_id_}, {"seqs", missing}};
  nats_.publish(protocol::control_subject(run_id_, index_), j.dump());
}

void NatsChannel::open(std::function<void(std::string_view)> on_line,
                       std::function<void(std::string)> on_closed) {
  open_parsed([on_line = std::move(on_line)](std::string_view line, Frame*) { on_line(line); },
              std::move(on_closed));
}

void NatsChannel::open_parsed(OnFrame on_frame, std::function<void(std::string)> on_closed) {
  std::lock_guard lock(mu_);
  on_frame_ = std::move(on_frame);
  on_closed_ = std::move(on_closed);
  opened_ = true;
  for (const std::string& data : early_) {
    if (closed_ || exit_how_) break;
    handle(data, nullptr);
  }
  early_.clear();
}

void NatsChannel::close(std::string how) {
  if (closed_) return;
  closed_ = true;
  if (on_closed_) on_closed_(std::move(how));
}

void NatsChannel::join() {
  std::thread closer;
  {
    std::lock_guard lock(mu_);
    if (!closer_.joinable() || closer_.get_id() == std::this_thread::get_id()) return;
    closer = std::move(closer_);
  }
  closer.join();
}

void NatsChannel::send_now(const char* type, std::int64_t t0_ns) {
  nlohmann::json j = {{"type", type}, {"run_id", run_id_}};
  if (t0_ns != 0) j["t0_ns"] = t0_ns;
  nats_.publish(protocol::control_subject(run_id_, index_), j.dump());
}

void NatsChannel::send(const char* type, std::int64_t t0_ns) {
  send_now(type, t0_ns);
  // A go is not awaited: nats.c's flusher sends it at once, and awaiting
  // the server's answer for each of a thousand agents, one after another,
  // took longer than the start lead. A stop or an abort is.
  if (t0_ns == 0) nats_.flush(std::chrono::milliseconds(500));
}

void NatsChannel::go(std::chrono::steady_clock::time_point t0) {
  const auto here = std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch());
  send("go", (here + offset_).count());
}

void NatsChannel::stop() { send("stop"); }

void NatsChannel::kill() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
  }
  send("abort");
  {
    std::lock_guard lock(mu_);
    opened_ = true;  // a kill before open() closes it too
    close(exit_how_.value_or("was ended by the coordinator"));
  }
  cv_.notify_all();
}

std::string NatsChannel::who() const {
  return fmt::format("agent {} ({} of {})", agent_id_, index_ + 1, count_);
}

}  // namespace loadpilot::agents
