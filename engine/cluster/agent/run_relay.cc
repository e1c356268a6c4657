#include "cluster/agent/run_relay.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>
#include <vector>

namespace loadpilot::agents {

void RunRelay::on_control(const std::string& data, const std::string& run_id,
                          const std::function<void(const std::string&)>& publish,
                          const std::function<void(const std::string&)>& say) {
  try {
    const nlohmann::json j = nlohmann::json::parse(data);
    if (j.value("run_id", std::string()) != run_id) return;
    const std::string type = j.value("type", std::string());
    std::lock_guard lock(mu);
    if (type == "resend") {
      resend(j.at("seqs").get<std::vector<std::uint64_t>>(), run_id, publish, say);
      return;
    }
    if (child == nullptr) return;  // the run is over
    watch.beat(Clock::now());
    if (type == "go") {
      child->go(Clock::time_point(std::chrono::nanoseconds(j.at("t0_ns").get<std::int64_t>())));
    } else if (type == "stop") {
      child->stop();
    } else if (type == "abort") {
      child->kill();
    }
  } catch (const std::exception&) {
    // Not a control message of ours.
  }
}

void RunRelay::resend(const std::vector<std::uint64_t>& asked, const std::string& run_id,
                      const std::function<void(const std::string&)>& publish,
                      const std::function<void(const std::string&)>& say) {
  const std::set<std::uint64_t> seqs(asked.begin(), asked.end());
  std::vector<const std::string*> frames;
  for (const auto& [seq, frame] : rounds)
    if (seqs.count(seq) != 0) frames.push_back(&frame);
  // Bounded per run and second: a request costs its sender a few bytes,
  // each frame sent again up to kilobytes.
  const std::size_t granted = resend_budget.take(frames.size(), Clock::now());
  for (std::size_t i = 0; i < granted; ++i) publish(*frames[i]);
  if (granted < frames.size() &&
      (!refusal_said || Clock::now() - *refusal_said >= std::chrono::seconds(10))) {
    refusal_said = Clock::now();
    say(fmt::format(
        "run {}: resend asked for more than {} round reports a second; {} refused so far", run_id,
        ResendBudget::kFramesPerWindow, resend_budget.refused()));
  }
}

}  // namespace loadpilot::agents
