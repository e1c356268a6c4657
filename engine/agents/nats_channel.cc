#include "agents/nats_channel.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "agents/protocol.h"

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
  std::lock_guard lock(mu_);
  closed_ = true;
}

void NatsChannel::deliver(const std::string& data) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  // Frames of another run (or not JSON at all) are not this channel's.
  std::string type, how;
  try {
    const nlohmann::json j = nlohmann::json::parse(data);
    if (j.value("run_id", std::string()) != run_id_) return;
    type = j.value("type", std::string());
    if (type == "exit") how = j.value("how", std::string("ended"));
  } catch (const std::exception&) {
    return;
  }
  if (!opened_) {
    early_.push_back(data);
    return;
  }
  if (type == "exit") {
    close(how);
    return;
  }
  on_line_(data);
}

void NatsChannel::open(std::function<void(std::string_view)> on_line,
                       std::function<void(std::string)> on_closed) {
  std::lock_guard lock(mu_);
  on_line_ = std::move(on_line);
  on_closed_ = std::move(on_closed);
  opened_ = true;
  for (const std::string& data : early_) {
    if (closed_) break;
    const nlohmann::json j = nlohmann::json::parse(data);
    if (j.value("type", std::string()) == "exit")
      close(j.value("how", std::string("ended")));
    else
      on_line_(data);
  }
  early_.clear();
}

void NatsChannel::close(std::string how) {
  if (closed_) return;
  closed_ = true;
  if (on_closed_) on_closed_(std::move(how));
}

void NatsChannel::send(const char* type, std::int64_t t0_ns) {
  nlohmann::json j = {{"type", type}, {"run_id", run_id_}};
  if (t0_ns != 0) j["t0_ns"] = t0_ns;
  nats_.publish(protocol::control_subject(run_id_, index_), j.dump());
  nats_.flush(std::chrono::milliseconds(500));
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
  std::lock_guard lock(mu_);
  opened_ = true;  // a kill before open() closes it too
  close("was ended by the coordinator");
}

std::string NatsChannel::who() const {
  return fmt::format("agent {} ({} of {})", agent_id_, index_ + 1, count_);
}

}  // namespace loadpilot::agents
