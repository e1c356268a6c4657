#pragma once
// WebSocketCounts: what a run's WebSocket connections did, besides the
// requests they are measured as (each open and each round trip is a
// request of its task: docs/protocols.md#websocket). Counts are exact and
// merge by addition, across workers, processes and agents.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace loadpilot::metrics {

struct WebSocketCounts {
  // Connections whose upgrade succeeded.
  std::uint64_t opened = 0;
  // Messages written to and read from the wire, and their payload bytes
  // (frame headers and the upgrade's HTTP are not counted).
  std::uint64_t messages_sent = 0, messages_received = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  // How connections ended, by close code: the code of a close handshake
  // (either side's), 1006 for a connection lost without one. Bounded:
  // past kMaxCodes distinct codes, further ones count under 0 ("other").
  static constexpr std::size_t kMaxCodes = 32;
  std::map<std::uint16_t, std::uint64_t> closes;

  bool empty() const {
    return opened == 0 && messages_sent == 0 && messages_received == 0 && closes.empty();
  }
  void add_close(std::uint16_t code, std::uint64_t n = 1);
  void merge(const WebSocketCounts& other);

  // One line for the terminal summary: "3 opened; messages sent 30
  // (1200 bytes), received 30 (1200 bytes); closes 1000 x3".
  std::string describe() const;
  // {"opened": n, "messages_sent": n, ..., "closes": {"1000": n, ...}}.
  nlohmann::json to_json() const;
  // Throws std::invalid_argument naming the bad field.
  static WebSocketCounts from_json(const nlohmann::json& j);
};

}  // namespace loadpilot::metrics
