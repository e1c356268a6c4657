#pragma once
// The agent protocol: every frame, control message and NATS subject that
// passes between a coordinator and its agents, local (pipes) or remote
// (NATS). One header for both ends (docs/distributed.md#protocol).
//
// Frames, agent -> coordinator (one JSON document each; over a pipe one
// line each):
//   {"type":"hello","tasks":[...]}           ready to start; its metric rows
//   {"type":"round","seq":N,"stats":{...},"in_flight":N,"connections":N}
//                                             once a second, N = 1, 2, ...;
//                                             stats are an IntervalStats
//                                             (lossless)
//   {"type":"end","fatal":"...","blocked":B,"rounds":N}
//                                             its run is over; N round frames
//                                             were sent
//   {"type":"failed","error":"..."}           NATS only: it could not start
//                                             (the bundle did not load)
//   {"type":"ping"}                          NATS only: back from a pause, it
//                                             asks for a heartbeat
//   {"type":"exit","how":"..."}               NATS only: its run process
//                                             ended ("exited with code 0")
// Over NATS each frame also carries "agent_id" and "run_id". Every frame
// is read and type-checked by cluster/frame.h.
//
// Control, coordinator -> agent:
//   pipe: the line "go <t0_ns>" (steady clock of the machine); stop is a
//   SIGINT, abort a SIGKILL.
//   NATS, on the agent's run control subject:
//   {"type":"go","run_id":R,"t0_ns":N}        t0 in the agent's own clock
//   {"type":"stop","run_id":R}  {"type":"abort","run_id":R}
//   {"type":"resend","run_id":R,"seqs":[...]}  send these round frames again
//                                             (at most ResendBudget a second)
//                                             (the agent keeps its last run's
//                                             600 latest until its next run)
//   {"type":"heartbeat","run_id":R}          the answer to a frame that came
//                                             after a silence of 1.5 s
//   and once a second on the run's heartbeat subject {"run_id":R}: an
//   agent that hears neither for kCoordinatorSilence stops its load.
//
// NATS subjects (all under "loadpilot."):
//   loadpilot.agents.announce            agent -> all: {"agent_id","host","pid",
//                                        "instance","version","state":"idle"|"busy"}
//                                        instance: random per agent process
//   loadpilot.agents.discover            coordinator -> all: announce now
//   loadpilot.agent.<id>.clock           request/reply: {"now_ns":N}; a request
//                                        {"instance":I} is answered by that
//                                        agent process only
//   loadpilot.agent.<id>.refused         coordinator -> agent: {"instance":I,
//                                        "reason":"..."}: a second process
//                                        with a taken id; it exits
//   loadpilot.agent.<id>.assign          request/reply: an Assignment;
//                                        reply {"ok":true} or {"ok":false,"error"}
//   loadpilot.run.<run>.frames.<index>   agent <index> -> coordinator: frames
//   loadpilot.run.<run>.control.<index>  coordinator -> agent <index>
//   loadpilot.run.<run>.heartbeat        coordinator -> agents
// A run id is random per run, so two runs on one broker never mix; an
// agent listens only to the run it was given and drops any message whose
// run_id is another.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace loadpilot::agents::protocol {

// An idle agent announces itself this often.
inline constexpr std::chrono::seconds kAnnounceEvery{2};
// An agent that hears no heartbeat of its run's coordinator for this long
// stops its load and waits for the next run.
inline constexpr std::chrono::seconds kCoordinatorSilence{5};
// An agent cut off from the NATS server itself (it cannot tell whether its
// coordinator still beats) keeps its schedule, the target being reachable
// on its own link, but for at most this long without word from its
// coordinator: its rounds are kept to be sent again (at most 60 a second,
// agent/resend_budget.h), and no agent loads a target for long unwatched.
inline constexpr std::chrono::seconds kUnlinkedLimit{30};
// The scenario bundle's limit (all files together).
inline constexpr std::size_t kMaxBundleBytes = 8 * 1024 * 1024;

std::string announce_subject();
std::string discover_subject();
std::string agent_subject(std::string_view agent_id, std::string_view what);  // clock, assign
std::string frames_subject(std::string_view run_id, std::size_t index);
std::string control_subject(std::string_view run_id, std::size_t index);
std::string heartbeat_subject(std::string_view run_id);

// An agent id is one NATS subject token: letters, digits, '-' and '_', 1
// to 64 of them. Empty when valid, else why not.
std::string check_agent_id(std::string_view id);
// hostname-pid, made a valid id.
std::string default_agent_id();
// A fresh random run id (16 hex digits).
std::string new_run_id();

// The scenario and the Python files of its folder it imports, as agents
// receive them: paths relative to the scenario's folder, '/'-separated.
struct Bundle {
  std::string main;                          // the scenario file
  std::map<std::string, std::string> files;  // path -> content
  std::string sha256;                        // of the canonical listing
  nlohmann::json to_json() const;
  // Throws std::invalid_argument: a path that is absolute, has "..",
  // or a hash that does not match.
  static Bundle from_json(const nlohmann::json& j);
  std::size_t bytes() const;
};
// The hash of a bundle's files (paths and contents, in path order).
std::string bundle_hash(const std::map<std::string, std::string>& files);

// What one agent is given for a run.
struct Assignment {
  std::string run_id;
  // The agent process it is for (its announced "instance"): every agent
  // that shares an id hears the assign subject, and only this one takes
  // the run. Empty: whichever agent has the id.
  std::string instance;
  std::size_t index = 0, count = 1;
  nlohmann::json plan;  // the resolved Plan (what --dry-run prints)
  Bundle bundle;
  // Its share of the engine's limits and the run's options.
  std::size_t workers = 1, max_connections = 1;
  int max_vusers = 1;
  std::string timeout = "30s", drain = "2s";
  std::uint64_t seed = 1;
  bool insecure = false;
  nlohmann::json to_json() const;
  static Assignment from_json(const nlohmann::json& j);  // throws std::exception
};

// The body of the coordinator service's `POST /run`
// (docs/distributed.md#the-coordinator-service): what `loadpilot run
// --coordinator-url` sends. The service's agents share the run as
// `--external-agents` would.
//   {"plan":{...},"bundle":{...},"options":{"workers":0,"max_connections":N,
//    "max_vusers":N,"timeout":"30s","drain":"2s","seed":1,"insecure":false}}
// workers 0: each agent's machine decides.
struct RunRequest {
  nlohmann::json plan;  // the resolved Plan; the service validates it
  Bundle bundle;
  std::size_t workers = 0, max_connections = 1;
  int max_vusers = 0;  // 0: the plan's
  std::string timeout = "30s", drain = "2s";
  std::uint64_t seed = 1;
  bool insecure = false;
  nlohmann::json to_json() const;
  // Throws std::invalid_argument naming the field ("options.timeout: ...").
  static RunRequest from_json(const nlohmann::json& j);
};

}  // namespace loadpilot::agents::protocol
