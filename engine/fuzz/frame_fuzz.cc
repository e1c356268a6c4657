// Fuzz target: agents::parse_frame (engine/cluster/frame.h), the one reader
// of every frame an agent sends its coordinator — over pipes, over NATS
// (where any client may publish on a run's frame subject) and over the
// coordinator service's stream.
//
// Input: the bytes of one frame, as they arrive.
//
// Invariants:
//  * parse_frame returns or throws FrameError; any other exception is a
//    finding (one once ended a coordinator with exit 3);
//  * an accepted frame is an object whose "type" is a known string and
//    whose fields have their documented types: a round's "seq" is a whole
//    number from 1 (the books count each round once by it), run_id and
//    agent_id are strings when present;
//  * what was read writes back to a frame that reads the same.
#include <nlohmann/json.hpp>
#include <string>

#include "cluster/frame.h"
#include "fuzz/fuzz_support.h"

namespace {

using loadpilot::agents::Frame;
using loadpilot::agents::FrameError;
using nlohmann::json;

const char* type_name(Frame::Type t) {
  switch (t) {
    case Frame::Type::kHello:
      return "hello";
    case Frame::Type::kRound:
      return "round";
    case Frame::Type::kEnd:
      return "end";
    case Frame::Type::kFailed:
      return "failed";
    case Frame::Type::kExit:
      return "exit";
    case Frame::Type::kPing:
      return "ping";
  }
  return "?";
}

json write(const Frame& f) {
  json j = {{"type", type_name(f.type)}, {"run_id", f.run_id}, {"agent_id", f.agent_id}};
  switch (f.type) {
    case Frame::Type::kHello:
      j["tasks"] = f.tasks;
      break;
    case Frame::Type::kRound:
      j["seq"] = f.seq;
      j["stats"] = f.stats.to_json();
      j["in_flight"] = f.in_flight;
      j["active_users"] = f.active_users;
      j["connections"] = f.connections;
      break;
    case Frame::Type::kEnd:
      j["fatal"] = f.fatal;
      j["blocked"] = f.blocked;
      j["rounds"] = f.rounds;
      break;
    case Frame::Type::kFailed:
      j["error"] = f.error;
      break;
    case Frame::Type::kExit:
      j["how"] = f.how;
      break;
    case Frame::Type::kPing:
      break;
  }
  return j;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Frame f;
  try {
    f = loadpilot::agents::parse_frame(text);
  } catch (const FrameError&) {
    return 0;
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("an exception other than FrameError: ") + e.what());
  }
  // Accepted: check it against the document with rules of its own.
  const json j = json::parse(text, nullptr, false);
  FUZZ_CHECK(j.is_object(), "accepted a frame that is not a JSON object");
  FUZZ_CHECK(j.contains("type") && j["type"].is_string() && j["type"] == type_name(f.type),
             "accepted a frame whose type is not its known string");
  for (const char* id : {"run_id", "agent_id"})
    FUZZ_CHECK(!j.contains(id) || j[id].is_string(), std::string("accepted a non-string ") + id);
  if (f.type == Frame::Type::kRound) {
    FUZZ_CHECK(j.contains("seq") && j["seq"].is_number_unsigned() &&
                   j["seq"].get<std::uint64_t>() >= 1 && f.seq == j["seq"].get<std::uint64_t>(),
               "accepted a round whose seq is not a whole number from 1");
  }
  if (f.type == Frame::Type::kEnd && j.contains("rounds"))
    FUZZ_CHECK(j["rounds"].is_number_unsigned(), "accepted an end whose rounds is not a number");
  if (f.type == Frame::Type::kExit && j.contains("how"))
    FUZZ_CHECK(j["how"].is_string(), "accepted an exit whose how is not a string");
  // Round trip.
  const json once = write(f);
  Frame again;
  try {
    again = loadpilot::agents::parse_frame(once.dump());
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("a frame written back does not read: ") + e.what());
  }
  FUZZ_CHECK(write(again) == once, "a frame written back reads differently");
  return 0;
}
