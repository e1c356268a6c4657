#include "metrics/websocket_counts.h"

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace loadpilot::metrics {

void WebSocketCounts::add_close(std::uint16_t code, std::uint64_t n) {
  if (closes.size() >= kMaxCodes && !closes.count(code)) code = 0;
  closes[code] += n;
}

void WebSocketCounts::merge(const WebSocketCounts& other) {
  opened += other.opened;
  messages_sent += other.messages_sent;
  messages_received += other.messages_received;
  bytes_sent += other.bytes_sent;
  bytes_received += other.bytes_received;
  for (const auto& [code, n] : other.closes) add_close(code, n);
}

std::string WebSocketCounts::describe() const {
  std::string out =
      fmt::format("{} opened; messages sent {} ({} bytes), received {} ({} bytes)", opened,
                  messages_sent, bytes_sent, messages_received, bytes_received);
  if (!closes.empty()) {
    out += "; closes";
    for (const auto& [code, n] : closes)
      out += code ? fmt::format(" {} x{}", code, n) : fmt::format(" other x{}", n);
  }
  return out;
}

nlohmann::json WebSocketCounts::to_json() const {
  nlohmann::json codes = nlohmann::json::object();
  for (const auto& [code, n] : closes) codes[code ? std::to_string(code) : "other"] = n;
  return {{"opened", opened},
          {"messages_sent", messages_sent},
          {"messages_received", messages_received},
          {"bytes_sent", bytes_sent},
          {"bytes_received", bytes_received},
          {"closes", std::move(codes)}};
}

namespace {

std::uint64_t count_field(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned())
    throw std::invalid_argument(std::string("websocket: \"") + key +
                                "\" must be a non-negative integer");
  return it->get<std::uint64_t>();
}

}  // namespace

WebSocketCounts WebSocketCounts::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("websocket: expected an object");
  WebSocketCounts c;
  c.opened = count_field(j, "opened");
  c.messages_sent = count_field(j, "messages_sent");
  c.messages_received = count_field(j, "messages_received");
  c.bytes_sent = count_field(j, "bytes_sent");
  c.bytes_received = count_field(j, "bytes_received");
  const auto it = j.find("closes");
  if (it == j.end() || !it->is_object())
    throw std::invalid_argument("websocket: \"closes\" must be an object");
  for (const auto& [key, value] : it->items()) {
    if (!value.is_number_unsigned())
      throw std::invalid_argument("websocket: \"closes\" must hold non-negative integers");
    std::uint16_t code = 0;
    if (key != "other") {
      std::size_t used = 0;
      unsigned long parsed = 0;
      try {
        parsed = std::stoul(key, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != key.size() || key.empty() || parsed == 0 || parsed > 65535)
        throw std::invalid_argument("websocket: \"closes\" has a bad code \"" + key + "\"");
      code = static_cast<std::uint16_t>(parsed);
    }
    c.add_close(code, value.get<std::uint64_t>());
  }
  return c;
}

}  // namespace loadpilot::metrics
