#include "cluster/frame.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace loadpilot::agents {

namespace {

using nlohmann::json;

// The value as the error shows it: short, so a frame of megabytes does not
// become a message of megabytes.
std::string shown(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

[[noreturn]] void bad(const char* field, const char* want, const json& v) {
  throw FrameError(fmt::format("\"{}\": must be {} (got {})", field, want, shown(v)));
}

const json* find(const json& j, const char* field, bool required) {
  const auto it = j.find(field);
  if (it != j.end()) return &*it;
  if (required) throw FrameError(fmt::format("\"{}\": missing", field));
  return nullptr;
}

std::string str(const json& j, const char* field, bool required, std::string fallback = {}) {
  const json* v = find(j, field, required);
  if (!v) return fallback;
  if (!v->is_string()) bad(field, "a string", *v);
  return v->get<std::string>();
}

std::uint64_t u64(const json& j, const char* field, bool required, std::uint64_t fallback = 0) {
  const json* v = find(j, field, required);
  if (!v) return fallback;
  if (!v->is_number_unsigned()) bad(field, "a whole number from 0", *v);
  return v->get<std::uint64_t>();
}

bool boolean(const json& j, const char* field) {
  const json* v = find(j, field, false);
  if (!v) return false;
  if (!v->is_boolean()) bad(field, "true or false", *v);
  return v->get<bool>();
}

}  // namespace

Frame parse_frame(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw FrameError("not JSON");
  if (!j.is_object()) throw FrameError(fmt::format("must be a JSON object (got {})", shown(j)));
  Frame f;
  f.run_id = str(j, "run_id", false);
  f.agent_id = str(j, "agent_id", false);
  const std::string type = str(j, "type", true);
  if (type == "hello") {
    f.type = Frame::Type::kHello;
    const json* tasks = find(j, "tasks", true);
    if (!tasks->is_array()) bad("tasks", "an array of strings", *tasks);
    for (const json& t : *tasks) {
      if (!t.is_string()) bad("tasks", "an array of strings", *tasks);
      f.tasks.push_back(t.get<std::string>());
    }
  } else if (type == "round") {
    f.type = Frame::Type::kRound;
    const json* seq = find(j, "seq", true);
    if (!seq->is_number_unsigned() || seq->get<std::uint64_t>() == 0)
      bad("seq", "a whole number from 1", *seq);
    f.seq = seq->get<std::uint64_t>();
    try {
      f.stats = metrics::IntervalStats::from_json(*find(j, "stats", true));
    } catch (const FrameError&) {
      throw;
    } catch (const std::exception& e) {
      throw FrameError(e.what());
    }
    f.in_flight = u64(j, "in_flight", false);
    f.active_users = u64(j, "active_users", false, f.in_flight);
    f.connections = u64(j, "connections", false);
    // Shown on a terminal: no control characters, whatever a forger sends.
    for (const char c : str(j, "notice", false)) {
      if (f.notice.size() >= kMaxNotice) break;
      if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) f.notice.push_back(c);
    }
  } else if (type == "end") {
    f.type = Frame::Type::kEnd;
    f.fatal = str(j, "fatal", false);
    f.blocked = boolean(j, "blocked");
    f.rounds = u64(j, "rounds", false);
  } else if (type == "failed") {
    f.type = Frame::Type::kFailed;
    f.error = str(j, "error", false, "failed");
  } else if (type == "exit") {
    f.type = Frame::Type::kExit;
    f.how = str(j, "how", false, "ended");
  } else if (type == "ping") {
    f.type = Frame::Type::kPing;  // an agent back from a pause asks for a heartbeat
  } else {
    bad("type", "one of hello, round, end, failed, exit, ping", j.at("type"));
  }
  return f;
}

}  // namespace loadpilot::agents
