#pragma once
// ResendBudget: how many round frames an agent republishes for `resend`
// requests (cluster/protocol.h) of one run, per window of time. A resend
// request is small and any client on the NATS server can send one, while
// each frame it names may be kilobytes: unbounded, a few requests a second
// would make every agent a traffic amplifier. A real coordinator asks at
// most once a second for the rounds a broker outage lost (one round per
// second per agent), so the budget is generous for it and caps anyone else.
// Refused frames are counted so the agent can say so.
//
// Thread-safety: none; the caller holds its run's lock.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace loadpilot::agents {

class ResendBudget {
 public:
  using Clock = std::chrono::steady_clock;
  // A real coordinator's need: at most once a second, a minute of rounds.
  static constexpr std::size_t kFramesPerWindow = 60;
  static constexpr std::chrono::seconds kWindow{1};

  explicit ResendBudget(std::size_t frames_per_window = kFramesPerWindow,
                        Clock::duration window = kWindow)
      : per_window_(frames_per_window), window_(window) {}

  // How many of `asked` frames may be sent at `now`; the rest are refused.
  std::size_t take(std::size_t asked, Clock::time_point now) {
    if (!started_ || now - window_start_ >= window_) {
      started_ = true;
      window_start_ = now;
      used_ = 0;
    }
    const std::size_t granted = std::min(asked, per_window_ - used_);
    used_ += granted;
    refused_ += asked - granted;
    return granted;
  }
  std::uint64_t refused() const { return refused_; }

 private:
  std::size_t per_window_;
  Clock::duration window_;
  bool started_ = false;
  Clock::time_point window_start_{};
  std::size_t used_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace loadpilot::agents
