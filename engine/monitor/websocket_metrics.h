#pragma once
// WebSocketMetrics: the loadpilot_websocket_* series of a run
// (docs/monitoring.md), fed each collection round's metrics::WebSocketCounts
// (the round's own counts, so they are added as they are). The series exist
// from construction at 0; a close code's series appears with its first close.
//
// Thread-safety: as RunMetrics (update() from one thread).
#include <cstdint>
#include <map>

#include "metrics/websocket_counts.h"

namespace prometheus {
class Counter;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace loadpilot::monitor {

class WebSocketMetrics {
 public:
  explicit WebSocketMetrics(prometheus::Registry& registry);
  void update(const metrics::WebSocketCounts& round);

 private:
  prometheus::Counter* opened_;
  prometheus::Counter *messages_sent_, *messages_received_;
  prometheus::Counter *bytes_sent_, *bytes_received_;
  prometheus::Family<prometheus::Counter>* closes_;
  std::map<std::uint16_t, prometheus::Counter*> close_codes_;
};

}  // namespace loadpilot::monitor
