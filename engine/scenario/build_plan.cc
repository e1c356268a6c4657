// build_plan(): description JSON (from loadpilot._describe) + command-line
// overrides -> Plan, collecting every problem instead of stopping at the
// first.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "plan/duration.h"
#include "scenario/build_thresholds.h"
#include "scenario/description_json.h"
#include "scenario/loader.h"
#include "scenario/table.h"
#include "scenario/vuser_runtime.h"

namespace loadpilot::scenario {
namespace {

using description::as_duration;
using description::field_of;
using description::left_at_default;
using description::shown;
using nlohmann::json;

class Problems {
 public:
  explicit Problems(std::vector<std::string>* out) : out_(out) {}
  void add(std::string_view field, std::string_view problem, const json& got) {
    out_->push_back(fmt::format("{}: {} (got {})", field, problem, shown(got)));
  }
  void add_raw(std::string message) { out_->push_back(std::move(message)); }

 private:
  std::vector<std::string>* out_;
};

std::string trimmed_lower(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A JSON number (not a boolean) or number text such as "200" or "2.5".
std::optional<double> as_number(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) return std::nullopt;
  std::string text = trimmed_lower(v.get<std::string>());
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<int> as_int(const json& v) {
  auto d = as_number(v);
  if (!d || *d != std::trunc(*d) || *d < -2147483648.0 || *d > 2147483647.0) return std::nullopt;
  return static_cast<int>(*d);
}

// The override when given on the command line, else the decorator's value.
json chosen(const std::optional<std::string>& override_value, const json& config, const char* key) {
  return override_value ? json(*override_value) : field_of(config, key);
}

// wait= as the DSL describes it: null (no wait) or {"kind", "min_s",
// "max_s"} (loadpilot._wait); plan::validate() checks the values.
std::optional<plan::WaitSpec> wait_from(const json& w) {
  plan::WaitSpec spec;
  if (w.is_null()) return spec;
  const json& kind = field_of(w, "kind");
  const json& lo = field_of(w, "min_s");
  const json& hi = field_of(w, "max_s");
  if (!kind.is_string() || !lo.is_number() || !hi.is_number()) return std::nullopt;
  const std::string k = kind.get<std::string>();
  if (k == "constant") {
    spec.kind = plan::WaitSpec::Kind::kConstant;
  } else if (k == "between") {
    spec.kind = plan::WaitSpec::Kind::kBetween;
  } else if (k == "pacing") {
    spec.kind = plan::WaitSpec::Kind::kPacing;
  } else {
    return std::nullopt;
  }
  spec.min_s = lo.get<double>();
  spec.max_s = hi.get<double>();
  return spec;
}

// The closed model's think time: wait= (loadpilot._wait).
void apply_wait(const json& config, plan::ProfileSpec* profile, Problems* problems) {
  plan::ProfileSpec& p = *profile;
  if (auto w = wait_from(field_of(config, "wait"))) {
    p.wait = *w;
  } else {
    problems->add("wait",
                  "must be between(a, b), constant(s) or constant_pacing(s) from loadpilot, in "
                  "seconds",
                  field_of(config, "wait"));
  }
}

// The closed model's users and think time (docs/scenarios.md#users-and-think-time).
void apply_users(const json& description, const Overrides& o, plan::Plan* plan,
                 Problems* problems) {
  plan::ProfileSpec& p = plan->profile;
  const json& config = field_of(description, "config");
  const json users = o.users ? json(*o.users) : field_of(config, "users");
  if (auto v = as_int(users); v && !users.is_string() && *v >= 1 && *v <= plan::kMaxUsers) {
    p.users = *v;
  } else {
    problems->add("users", fmt::format("must be a whole number from 1 to {}", plan::kMaxUsers),
                  users);
    p.users = 1;  // still closed, so no open-model errors follow
  }
  p.rps = 0;
  apply_wait(config, &p, problems);
}

// rps, duration, ramp_up, mode and steps: the shorthands' curve
// (docs/scenarios.md#modes).
void apply_shorthand(const json& description, const Overrides& o, plan::Plan* plan,
                     Problems* problems) {
  plan::ProfileSpec& p = plan->profile;
  const json& config = field_of(description, "config");
  const bool ramp_up_is_default = left_at_default(description, "ramp_up");
  const bool closed = !field_of(config, "users").is_null();
  if (closed) apply_users(description, o, plan, problems);

  json rps = chosen(o.rps, config, "rps");
  if (closed) {
    // No rate: the users and their think time set the pace.
  } else if (rps.is_string() && (trimmed_lower(rps.get<std::string>()) == "max" ||
                                 trimmed_lower(rps.get<std::string>()) == "unlimited")) {
    p.unlimited = true;
    p.rps = 0;
  } else if (auto v = as_number(rps)) {
    p.rps = *v;
  } else {
    problems->add("rps", "must be a number of iterations per second, or \"max\"", rps);
  }

  constexpr std::string_view kDurationHelp =
      "must be a duration like \"30s\", \"2m\", \"1m30s\", \"250ms\" or a number of seconds";
  json duration = chosen(o.duration, config, "duration");
  if (auto v = as_duration(duration)) {
    p.duration_s = *v;
  } else {
    problems->add("duration", kDurationHelp, duration);
  }
  json ramp_up = chosen(o.ramp_up, config, "ramp_up");
  if (auto v = as_duration(ramp_up)) {
    p.ramp_up_s = *v;
  } else {
    problems->add("ramp_up", kDurationHelp, ramp_up);
  }

  // An unwritten ramp_up ("10s") never outlasts the duration, so
  // @scenario(duration="5s") is a valid 5 s ramp rather than an error.
  if (!o.ramp_up && ramp_up_is_default && std::isfinite(p.duration_s) &&
      std::isfinite(p.ramp_up_s)) {
    p.ramp_up_s = std::clamp(p.ramp_up_s, 0.0, std::max(p.duration_s, 0.0));
  }

  json mode = chosen(o.mode, config, "mode");
  std::optional<plan::Mode> m;
  if (mode.is_string()) m = plan::mode_from_name(trimmed_lower(mode.get<std::string>()));
  // mode="find": a capacity search (docs/capacity.md); each of its steps
  // is a constant rate.
  const bool find = mode.is_string() && trimmed_lower(mode.get<std::string>()) == "find";
  if (find) {
    m = plan::Mode::kConstant;
    plan::FindSpec f;
    for (const char* key : {"rps_min", "rps_max"}) {
      const json given = field_of(config, key);
      if (given.is_null()) continue;
      if (auto v = as_number(given); v && !given.is_string() && *v > 0)
        (std::string_view(key) == "rps_min" ? f.rps_min : f.rps_max) = *v;
      else
        problems->add(key, "must be a number of iterations per second > 0", given);
    }
    plan->find_spec = f;
  } else if (const json& own = field_of(config, "mode");
             !(own.is_string() && trimmed_lower(own.get<std::string>()) == "find")) {
    // (A find scenario's steps run with --mode constant: its bounds stay
    // its own.)
    for (const char* key : {"rps_min", "rps_max"})
      if (const json given = field_of(config, key); !given.is_null())
        problems->add(key, "applies only to mode=\"find\" (docs/capacity.md)", given);
  }
  if (closed && !o.mode && left_at_default(description, "mode")) {
    // Users ramp up when ramp_up is given, climb in steps when steps are,
    // and are all there from the start otherwise.
    const bool steps_given = o.steps || !left_at_default(description, "steps");
    const bool ramp_given = o.ramp_up || !ramp_up_is_default;
    if (steps_given && ramp_given) {
      problems->add("steps",
                    "a closed model's users ramp up (ramp_up=) or climb in steps (steps=), not "
                    "both; give one, or name the mode",
                    o.steps ? json(*o.steps) : field_of(config, "steps"));
    }
    m = steps_given ? plan::Mode::kStep : ramp_given ? plan::Mode::kRamp : plan::Mode::kConstant;
  }
  if (m && (*m == plan::Mode::kStages || *m == plan::Mode::kShape)) {
    problems->add("mode",
                  "stages and shape are not modes to choose: write stages= or a shape() method "
                  "(docs/scenarios.md#stages)",
                  mode);
  } else if (m) {
    p.mode = *m;
  } else {
    problems->add("mode", "must be one of ramp, constant, step, spike, find", mode);
  }

  json steps = o.steps ? json(*o.steps) : field_of(config, "steps");
  if (auto v = as_int(steps); v && !steps.is_string()) {
    p.steps = *v;
  } else {
    problems->add("steps", "must be a whole number", steps);
  }
}

void apply_profile(const json& description, const Overrides& o, const std::string& file,
                   plan::Plan* plan, Problems* problems) {
  plan::ProfileSpec& p = plan->profile;
  const json& config = field_of(description, "config");
  const bool closed = !field_of(config, "users").is_null();

  if (closed) {
    if (o.rps)
      problems->add("rps",
                    fmt::format("--rps does not apply: scenario {} is a closed model (users=); "
                                "--users sets its users",
                                plan->name),
                    json(*o.rps));
  } else if (o.users) {
    problems->add("users",
                  fmt::format("--users does not apply: scenario {} is an open model (an arrival "
                              "rate, rps=); --rps sets its rate",
                              plan->name),
                  json(*o.users));
  }

  if (has_table(description)) {
    // stages= or shape(): the table is the curve (scenario/table.h).
    std::vector<std::string> found;
    read_table(description, o, file, plan, &found);
    for (std::string& e : found) problems->add_raw(std::move(e));
    if (closed) apply_wait(config, &p, problems);
  } else {
    apply_shorthand(description, o, plan, problems);
  }

  json max_vusers = o.max_vusers ? json(*o.max_vusers) : field_of(config, "max_vusers");
  if (closed && !o.max_vusers) {
    // Each user is one VUser.
    if (!max_vusers.is_null())
      problems->add("max_vusers",
                    "does not apply to a closed model (users=): each user is one VUser",
                    max_vusers);
    plan->max_vusers = p.users;
  } else if (max_vusers.is_null()) {
    plan->max_vusers = 0;
  } else if (auto v = as_int(max_vusers); v && !max_vusers.is_string() && *v >= 1) {
    plan->max_vusers = *v;  // plan::validate() checks the upper bound
  } else {
    // 0 is the plan's "not set"; written out, it would silently mean 1000.
    problems->add("max_vusers",
                  fmt::format("must be a whole number from 1 to {}, or None for the default ({})",
                              plan::kMaxVUsers, kDefaultMaxVUsers),
                  max_vusers);
  }
}

// The custom metrics the file declared while it was imported: what
// thresholds may name (plan/custom_keys.h).
void apply_custom_metrics(const json& description, plan::Plan* plan) {
  const json& declared = field_of(description, "custom_metrics");
  if (!declared.is_array()) return;
  for (const json& m : declared) {
    if (!m.is_object() || !field_of(m, "name").is_string() || !field_of(m, "kind").is_string())
      continue;
    const json& where = field_of(m, "where");
    plan->custom_metrics.push_back({m["name"].get<std::string>(), m["kind"].get<std::string>(),
                                    where.is_string() ? where.get<std::string>() : ""});
  }
}

// follow_redirects= and max_redirects= (docs/scenarios.md#redirects); left
// out, they keep the plan's defaults.
void apply_redirects(const json& config, plan::Plan* plan, Problems* problems) {
  const json& follow = field_of(config, "follow_redirects");
  if (follow.is_boolean()) {
    plan->follow_redirects = follow.get<bool>();
  } else if (!follow.is_null()) {
    problems->add("follow_redirects", "must be True or False", follow);
  }
  const json& limit = field_of(config, "max_redirects");
  if (limit.is_null()) return;
  if (auto v = as_int(limit); v && !limit.is_string() && *v >= 0 && *v <= plan::kMaxRedirects) {
    plan->max_redirects = *v;
  } else {
    problems->add("max_redirects",
                  fmt::format("must be a whole number from 0 to {} (the hops a call may follow)",
                              plan::kMaxRedirects),
                  limit);
  }
}

// http_version= and max_streams= (docs/protocols.md), then --http-version
// over them.
void apply_protocol(const json& config, const Overrides& o, plan::Plan* plan, Problems* problems) {
  const json& version = field_of(config, "http_version");
  if (version.is_string()) {
    plan->http_version = version.get<std::string>();
  } else if (!version.is_null()) {
    problems->add("http_version", "must be \"1.1\" or \"2\"", version);
  }
  if (o.http_version) plan->http_version = *o.http_version;
  const json& streams = field_of(config, "max_streams");
  if (!streams.is_null()) {
    if (auto v = as_int(streams); v && !streams.is_string() && *v >= 1 && *v <= plan::kMaxStreams) {
      plan->max_streams = *v;
    } else {
      problems->add("max_streams",
                    fmt::format("must be a whole number from 1 to {} (HTTP/2 streams in flight "
                                "per connection)",
                                plan::kMaxStreams),
                    streams);
    }
  }
}

// start= and group= (docs/scenarios.md#several-scenarios-in-one-run).
void apply_run_fields(const json& config, plan::Plan* plan, Problems* problems) {
  const json& start = field_of(config, "start");
  if (!start.is_null()) {
    const auto s = as_duration(start);
    if (s && std::isfinite(*s) && *s >= 0 && *s <= plan::kMaxDurationS)
      plan->start_s = *s;
    else
      problems->add("start", "must be a duration such as \"30s\" or \"10m\", from 0 to 7 days",
                    start);
  }
  const json& group = field_of(config, "group");
  const auto good_name = [](const json& g) {
    if (!g.is_string() || g.get<std::string>().empty()) return false;
    for (unsigned char c : g.get<std::string>())
      if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.')) return false;
    return true;
  };
  if (group.is_null()) return;
  const json groups = group.is_array() ? group : json::array({group});
  for (const json& g : groups) {
    if (good_name(g))
      plan->groups.push_back(g.get<std::string>());
    else
      problems->add("group",
                    "must be a name of letters, digits, '_', '-' or '.', or a list of such names",
                    g);
  }
}

// The recorded request as a native request spec, or nullopt when the
// description is malformed (only possible for hand-written descriptions).
std::optional<plan::HttpRequestSpec> request_from(const json& r) {
  const json& method = field_of(r, "method");
  const json& path = field_of(r, "path");
  const json& body = field_of(r, "body");
  const json& headers = field_of(r, "headers");
  if (!method.is_string() || !path.is_string() || !(body.is_string() || body.is_null()) ||
      !(headers.is_array() || headers.is_null())) {
    return std::nullopt;
  }
  plan::HttpRequestSpec spec;
  spec.method = method.get<std::string>();
  spec.path = path.get<std::string>();
  if (body.is_string()) spec.body = body.get<std::string>();
  // A native task's name= is a literal (the proof requires it): its sub-row.
  if (const json& name = field_of(r, "name"); name.is_string()) spec.name = name.get<std::string>();
  if (headers.is_array()) {
    for (const json& h : headers) {
      if (!h.is_array() || h.size() != 2 || !h[0].is_string() || !h[1].is_string()) {
        return std::nullopt;
      }
      spec.headers.emplace_back(h[0].get<std::string>(), h[1].get<std::string>());
    }
  }
  return spec;
}

// Returns true when a task-level problem was reported.
bool apply_tasks(const json& description, plan::Plan* plan, Problems* problems) {
  const json& tasks = field_of(description, "tasks");
  if (!tasks.is_array()) return false;
  bool reported = false;
  for (const json& t : tasks) {
    const json& name_j = field_of(t, "name");
    std::string name = name_j.is_string() ? name_j.get<std::string>() : shown(name_j);
    std::string field = "tasks." + name;

    plan::TaskSpec task;
    task.name = name;
    bool ok = true;
    const json& weight = field_of(t, "weight");
    if (weight.is_number()) {
      task.weight = weight.get<double>();
    } else {
      problems->add(field + ".weight", "must be a number", weight);
      ok = false;
    }

    const json& error = field_of(t, "error");
    const json& requests = field_of(t, "requests");
    const json& runtime = field_of(t, "runtime");
    const json& reason = field_of(t, "reason");
    if (reason.is_string()) task.reason = reason.get<std::string>();
    if (error.is_string()) {
      // Only a task proven fixed is run while loading; its failure is real.
      problems->add_raw(field + ": " + error.get<std::string>());
      ok = false;
    } else if (runtime.is_string() && runtime.get<std::string>() == "python") {
      task.runtime = "python";
    } else if (!requests.is_array() || requests.size() != 1) {
      size_t n = requests.is_array() ? requests.size() : 0;
      problems->add_raw(
          fmt::format("{}: recorded {} HTTP calls for the native runtime; expected one", field, n));
      ok = false;
    } else if (auto spec = request_from(requests[0])) {
      task.runtime = "native";
      task.request = std::move(*spec);
    } else {
      problems->add(field + ".request", "malformed request description", requests[0]);
      ok = false;
    }

    if (ok) {
      plan->tasks.push_back(std::move(task));
    } else {
      reported = true;
    }
  }
  return reported;
}

}  // namespace

plan::Plan build_plan(const ScenarioInfo& info, const std::string& file, const Overrides& overrides,
                      std::vector<std::string>* errors) {
  Problems problems(errors);
  plan::Plan plan;
  plan.name = info.name;
  plan.file = file;
  plan.target = overrides.target;

  apply_profile(info.description, overrides, file, &plan, &problems);
  apply_custom_metrics(info.description, &plan);
  apply_thresholds(info.description, overrides, &plan, errors);
  apply_redirects(field_of(info.description, "config"), &plan, &problems);
  apply_protocol(field_of(info.description, "config"), overrides, &plan, &problems);
  apply_run_fields(field_of(info.description, "config"), &plan, &problems);
  bool task_problems = apply_tasks(info.description, &plan, &problems);

  for (std::string& e : plan::validate(plan)) {
    // Tasks left out for their own reported problems do not also need
    // "at least one task".
    if (task_problems && e.starts_with("tasks: ")) continue;
    errors->push_back(locate_table_error(info.description, file, std::move(e)));
  }
  return plan;
}

}  // namespace loadpilot::scenario
