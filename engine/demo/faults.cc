#include "demo/faults.h"

namespace loadpilot::demo {
namespace {

Faults::Clock::duration from_ms(double ms) {
  return std::chrono::duration_cast<Faults::Clock::duration>(
      std::chrono::duration<double, std::milli>(ms > 0 ? ms : 0));
}

}  // namespace

Faults::Faults(const DemoOptions& options, Clock::time_point start, int worker_index)
    : start_(start),
      latency_(from_ms(options.latency_ms)),
      jitter_ns_(options.jitter_ms > 0 ? options.jitter_ms * 1e6 : 0),
      error_rate_(options.error_rate),
      rng_([&] {
        std::seed_seq seq{static_cast<std::uint32_t>(options.seed),
                          static_cast<std::uint32_t>(options.seed >> 32),
                          static_cast<std::uint32_t>(worker_index)};
        return std::mt19937_64(seq);
      }()) {
  if (options.stall_every_s > 0 && options.stall_for_s > 0) {
    stall_every_ = from_ms(options.stall_every_s * 1000);
    stall_for_ = from_ms(options.stall_for_s * 1000);
  }
  delays_ = latency_.count() > 0 || jitter_ns_ > 0 || stall_every_.count() > 0;
}

bool Faults::inject_error() {
  if (error_rate_ <= 0) return false;
  return std::uniform_real_distribution<double>(0, 100)(rng_) < error_rate_;
}

Faults::Clock::time_point Faults::release_time(Clock::time_point received) {
  Clock::time_point release = received + latency_;
  if (jitter_ns_ > 0) {
    double ns = std::uniform_real_distribution<double>(0, jitter_ns_)(rng_);
    release +=
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::nano>(ns));
  }
  if (stall_every_.count() > 0) {
    Clock::duration since = release - start_;
    if (since >= stall_every_) {
      Clock::duration phase = since % stall_every_;
      if (phase < stall_for_) release += stall_for_ - phase;
    }
  }
  return release;
}

}  // namespace loadpilot::demo
