#pragma once
// Frame: one message an agent sends its coordinator (cluster/protocol.h
// lists them), read and type-checked in one place. Every frame reaches the
// coordinator through parse_frame() — from a pipe, a NATS subject any
// client can publish on, or the service's HTTP stream — so a frame that
// is not exactly what an agent sends is refused here, with the field and
// the value named, before any of it is counted.
//
// Rules: the text is one JSON object; "type" is one of hello, round, end,
// failed, exit, ping; each field the type uses has its documented JSON type;
// a round frame's "seq" is a whole number from 1 (rounds are numbered 1,
// 2, ...; the books de-duplicate by it, so a frame without one, or with 0,
// cannot be told from a repeat); "run_id" and "agent_id", when present,
// are strings. Fields it does not know are ignored (a newer agent may add
// some).
//
// Thread-safety: a pure function.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/stats.h"

namespace loadpilot::agents {

struct FrameError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

inline constexpr std::size_t kMaxNotice = 300;

struct Frame {
  enum class Type { kHello, kRound, kEnd, kFailed, kExit, kPing };
  Type type = Type::kHello;
  std::string run_id, agent_id;  // NATS frames; empty elsewhere
  // hello
  std::vector<std::string> tasks;
  // round
  std::uint64_t seq = 0;
  metrics::IntervalStats stats;
  std::uint64_t in_flight = 0, connections = 0;
  std::uint64_t active_users = 0;  // in_flight when the frame has none
  // The coordinator service's line for the live views ("waiting for agent
  // a2 (2 of 2)'s last report, 2 s"): printable characters only, at most
  // kMaxNotice bytes.
  std::string notice;
  // end
  std::string fatal;
  bool blocked = false;
  std::uint64_t rounds = 0;
  // failed
  std::string error;
  // exit
  std::string how;
};

// Throws FrameError: "FIELD: must be ... (got VALUE)".
Frame parse_frame(std::string_view text);

}  // namespace loadpilot::agents
