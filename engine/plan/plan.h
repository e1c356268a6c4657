#pragma once
// Plan: the contract between the Python front end, the coordinator and the
// agents. A scenario file is turned into a Plan once; the engine consumes
// only Plans. `loadpilot run --dry-run` prints Plan::to_json().
//
// JSON shape (all durations in seconds):
// {
//   "name": "Browse", "file": "scenarios/browse.py", "target": "http://127.0.0.1:8000",
//   "profile": {"mode": "ramp", "rps": 200, "duration_s": 30, "ramp_up_s": 5, "steps": 5,
//               "unlimited": false},
//   "max_vusers": 0,
//   "tasks": [{"name": "products", "weight": 5, "runtime": "native", "reason": "...",
//              "request": {"method": "GET", "path": "/api/products",
//                          "headers": [["Accept", "application/json"]], "body": ""}}],
//   "thresholds": {"p99_ms": 50, "error_rate": 1.0}
// }
// "runtime" is "native" (the engine sends `request` itself) or "python"
// (the Python VUser runtime runs the task body on every iteration).
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace loadpilot::plan {

enum class Mode { kRamp, kConstant, kStep, kSpike };
std::string_view mode_name(Mode m);
std::optional<Mode> mode_from_name(std::string_view s);

struct ProfileSpec {
  Mode mode = Mode::kRamp;
  double rps = 10;
  double duration_s = 60;
  double ramp_up_s = 10;
  int steps = 5;
  bool unlimited = false;  // closed loop: every connection sends back-to-back
  // Seconds the whole run lasts (ramp adds ramp_up_s before duration_s).
  double total_s() const;
  // The mode as runs show it: "max" for a closed loop, else mode_name().
  std::string label() const { return unlimited ? "max" : std::string(mode_name(mode)); }
};

struct HttpRequestSpec {
  std::string method = "GET";
  std::string path = "/";  // relative to the target, query string included
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct TaskSpec {
  std::string name;
  double weight = 1;
  std::string runtime = "native";          // "native" | "python"
  std::string reason;                      // why that runtime was chosen (shown by --dry-run)
  std::optional<HttpRequestSpec> request;  // required for the native runtime
};

struct Plan {
  std::string name;
  std::string file;
  std::string target;
  ProfileSpec profile;
  int max_vusers = 0;  // 0: chosen by the runtime
  std::vector<TaskSpec> tasks;
  std::map<std::string, double> thresholds;

  nlohmann::json to_json() const;
  // Parses without validating; throws PlanError naming the field on a type
  // mismatch or a missing required field (name, target, profile, tasks,
  // tasks[i].name, request.path). Absent optional fields keep their
  // defaults.
  static Plan from_json(const nlohmann::json& j);
};

struct PlanError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Known threshold keys, in display order.
inline constexpr const char* kThresholdKeys[] = {"p50_ms", "p95_ms", "p99_ms", "max_ms",
                                                 "error_rate"};

// Every problem with the plan, each "FIELD: PROBLEM (got VALUE)" with the
// field named as the user writes it, e.g. "rps: must be a number > 0
// (got -5)", "tasks.products.weight: ...", "thresholds.p98_ms: ...".
// Empty means valid. Rules: rps > 0 unless unlimited; duration > 0;
// ramp_up >= 0 and, in ramp mode, <= duration; steps >= 1; max_vusers >= 0;
// target an http(s) URL with a host (http::Target::parse); at least one
// task; unique task names; weight > 0; a native task has a request with a
// known method, a path starting with "/" and well-formed headers; known
// threshold keys with values >= 0.
std::vector<std::string> validate(const Plan& plan);

}  // namespace loadpilot::plan
