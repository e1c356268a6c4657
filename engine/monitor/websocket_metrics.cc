#include "monitor/websocket_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <string>

namespace loadpilot::monitor {

WebSocketMetrics::WebSocketMetrics(prometheus::Registry& r) {
  opened_ = &prometheus::BuildCounter()
                 .Name("loadpilot_websocket_opened_total")
                 .Help("WebSocket connections whose upgrade succeeded")
                 .Register(r)
                 .Add({});
  auto& messages = prometheus::BuildCounter()
                       .Name("loadpilot_websocket_messages_total")
                       .Help("WebSocket messages written (sent) and read (received)")
                       .Register(r);
  messages_sent_ = &messages.Add({{"direction", "sent"}});
  messages_received_ = &messages.Add({{"direction", "received"}});
  auto& bytes = prometheus::BuildCounter()
                    .Name("loadpilot_websocket_bytes_total")
                    .Help("WebSocket message payload bytes written (sent) and read (received)")
                    .Register(r);
  bytes_sent_ = &bytes.Add({{"direction", "sent"}});
  bytes_received_ = &bytes.Add({{"direction", "received"}});
  closes_ = &prometheus::BuildCounter()
                 .Name("loadpilot_websocket_closes_total")
                 .Help("WebSocket connections ended, by close code (1006: without a close frame)")
                 .Register(r);
}

void WebSocketMetrics::update(const metrics::WebSocketCounts& round) {
  const auto add = [](prometheus::Counter* c, std::uint64_t n) {
    if (n > 0) c->Increment(static_cast<double>(n));
  };
  add(opened_, round.opened);
  add(messages_sent_, round.messages_sent);
  add(messages_received_, round.messages_received);
  add(bytes_sent_, round.bytes_sent);
  add(bytes_received_, round.bytes_received);
  for (const auto& [code, n] : round.closes) {
    prometheus::Counter*& c = close_codes_[code];
    if (c == nullptr) c = &closes_->Add({{"code", code ? std::to_string(code) : "other"}});
    add(c, n);
  }
}

}  // namespace loadpilot::monitor
