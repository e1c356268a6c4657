#include "plan/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <set>

#include "http/target.h"
#include "plan/stages.h"

namespace loadpilot::plan {
namespace {

using nlohmann::json;

constexpr std::pair<Mode, std::string_view> kModeNames[] = {
    {Mode::kRamp, "ramp"},   {Mode::kConstant, "constant"}, {Mode::kStep, "step"},
    {Mode::kSpike, "spike"}, {Mode::kStages, "stages"},     {Mode::kShape, "shape"}};

constexpr std::pair<WaitSpec::Kind, std::string_view> kWaitKinds[] = {
    {WaitSpec::Kind::kNone, "none"},
    {WaitSpec::Kind::kConstant, "constant"},
    {WaitSpec::Kind::kBetween, "between"},
    {WaitSpec::Kind::kPacing, "pacing"}};

constexpr std::string_view kMethods[] = {"GET",    "POST", "PUT",    "PATCH",
                                         "DELETE", "HEAD", "OPTIONS"};

std::string as_json_string(std::string_view s) { return json(std::string(s)).dump(); }

std::string show(double v) { return fmt::format("{}", v); }

std::string joined(const auto& items) {
  std::string out;
  for (std::string_view item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// --- from_json helpers: each names the field it reads in its error. ---

const json* find(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

[[noreturn]] void fail(const std::string& field, std::string_view expected, const json& got) {
  throw PlanError(fmt::format("{}: expected {} (got {})", field, expected, got.dump()));
}

const json& require(const json& obj, const char* key, const std::string& field) {
  const json* v = find(obj, key);
  if (v == nullptr) throw PlanError(field + ": required field is missing");
  return *v;
}

double read_number(const json& v, const std::string& field) {
  if (!v.is_number()) fail(field, "a number", v);
  return v.get<double>();
}

int read_int(const json& v, const std::string& field) {
  // Unsigned first: get<long long>() would wrap values past INT64_MAX into
  // the negative int range.
  if (v.is_number_unsigned()) {
    auto u = v.get<std::uint64_t>();
    if (u <= INT32_MAX) return static_cast<int>(u);
  } else if (v.is_number_integer()) {
    auto i = v.get<long long>();
    if (i >= INT32_MIN && i <= INT32_MAX) return static_cast<int>(i);
  } else if (v.is_number_float()) {
    double d = v.get<double>();
    if (d == std::trunc(d) && d >= INT32_MIN && d <= INT32_MAX) return static_cast<int>(d);
  }
  fail(field, "a whole number", v);
}

std::string read_string(const json& v, const std::string& field) {
  if (!v.is_string()) fail(field, "a string", v);
  return v.get<std::string>();
}

void read_optional(const json& obj, const char* key, const std::string& prefix, double* out) {
  if (const json* v = find(obj, key)) *out = read_number(*v, prefix + key);
}

HttpRequestSpec request_from_json(const json& j, const std::string& field) {
  if (!j.is_object()) fail(field, "an object", j);
  HttpRequestSpec r;
  if (const json* v = find(j, "method")) r.method = read_string(*v, field + ".method");
  r.path = read_string(require(j, "path", field + ".path"), field + ".path");
  if (const json* v = find(j, "body")) r.body = read_string(*v, field + ".body");
  if (const json* v = find(j, "name"); v != nullptr && !v->is_null())
    r.name = read_string(*v, field + ".name");
  if (const json* v = find(j, "headers")) {
    if (!v->is_array()) fail(field + ".headers", "a list of [name, value] pairs", *v);
    for (const json& pair : *v) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
        fail(field + ".headers", "[name, value] string pairs", pair);
      }
      r.headers.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
    }
  }
  return r;
}

TaskSpec task_from_json(const json& j, size_t index) {
  std::string field = fmt::format("tasks[{}]", index);
  if (!j.is_object()) fail(field, "an object", j);
  TaskSpec t;
  t.name = read_string(require(j, "name", field + ".name"), field + ".name");
  field = "tasks." + t.name;
  read_optional(j, "weight", field + ".", &t.weight);
  if (const json* v = find(j, "runtime")) t.runtime = read_string(*v, field + ".runtime");
  if (const json* v = find(j, "reason")) t.reason = read_string(*v, field + ".reason");
  if (const json* v = find(j, "request"); v != nullptr && !v->is_null()) {
    t.request = request_from_json(*v, field + ".request");
  }
  return t;
}

WaitSpec wait_from_json(const json& j) {
  if (!j.is_object()) fail("profile.wait", "an object", j);
  WaitSpec w;
  const std::string kind =
      read_string(require(j, "kind", "profile.wait.kind"), "profile.wait.kind");
  bool known = false;
  for (const auto& [k, name] : kWaitKinds) {
    if (name == kind) {
      w.kind = k;
      known = true;
    }
  }
  if (!known) fail("profile.wait.kind", "one of none, constant, between, pacing", j.at("kind"));
  read_optional(j, "min_s", "profile.wait.", &w.min_s);
  read_optional(j, "max_s", "profile.wait.", &w.max_s);
  return w;
}

ProfileSpec profile_from_json(const json& j) {
  if (!j.is_object()) fail("profile", "an object", j);
  ProfileSpec p;
  if (const json* v = find(j, "mode")) {
    auto mode = mode_from_name(read_string(*v, "profile.mode"));
    if (!mode) fail("profile.mode", "one of ramp, constant, step, spike, stages, shape", *v);
    p.mode = *mode;
  }
  read_optional(j, "rps", "profile.", &p.rps);
  read_optional(j, "duration_s", "profile.", &p.duration_s);
  read_optional(j, "ramp_up_s", "profile.", &p.ramp_up_s);
  if (const json* v = find(j, "steps")) p.steps = read_int(*v, "profile.steps");
  if (const json* v = find(j, "unlimited")) {
    if (!v->is_boolean()) fail("profile.unlimited", "true or false", *v);
    p.unlimited = v->get<bool>();
  }
  if (const json* v = find(j, "users")) p.users = read_int(*v, "profile.users");
  if (const json* v = find(j, "wait"); v != nullptr && !v->is_null()) p.wait = wait_from_json(*v);
  if (p.tabled()) {
    // The table is the curve; rps or users is its peak.
    p.stages = stages_from_json(require(j, "stages", "profile.stages"));
    read_optional(j, "start", "profile.", &p.start);
    const json* model = find(j, "model");
    settle_table(&p, model != nullptr ? *model == "closed" : p.users > 0);
  }
  if (const json* v = find(j, "model")) {
    const std::string model = read_string(*v, "profile.model");
    if (model != "open" && model != "closed") fail("profile.model", "\"open\" or \"closed\"", *v);
    // A closed plan names its users; an open one has none.
    if ((model == "closed") != p.closed())
      fail("profile.users",
           model == "closed" ? "a number of users >= 1 for a closed model"
                             : "no users for an open model",
           find(j, "users") ? *find(j, "users") : json(nullptr));
  }
  return p;
}

// --- validate helpers ---

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    // RFC 9110 token characters.
    if (!(std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                 std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

void validate_request(const std::string& field, const HttpRequestSpec& r,
                      std::vector<std::string>* errors) {
  bool known = false;
  for (std::string_view m : kMethods) known = known || m == r.method;
  if (!known) {
    errors->push_back(fmt::format("{}.method: must be one of {} (got {})", field, joined(kMethods),
                                  as_json_string(r.method)));
  }
  if (!r.path.starts_with('/')) {
    errors->push_back(
        fmt::format("{}.path: must start with \"/\" (got {})", field, as_json_string(r.path)));
  } else if (r.path.find_first_of(" \r\n") != std::string::npos) {
    errors->push_back(fmt::format("{}.path: must not contain spaces or line breaks (got {})", field,
                                  as_json_string(r.path)));
  }
  for (const auto& [name, value] : r.headers) {
    if (!valid_header_name(name)) {
      errors->push_back(
          fmt::format("{}.headers: invalid header name (got {})", field, as_json_string(name)));
    } else if (value.find_first_of("\r\n") != std::string::npos) {
      errors->push_back(fmt::format("{}.headers.{}: must not contain line breaks (got {})", field,
                                    name, as_json_string(value)));
    }
  }
}

void validate_wait(const WaitSpec& w, std::vector<std::string>* errors) {
  const auto bad = [&](std::string_view problem) {
    errors->push_back(fmt::format("wait: {} (got {})", problem, w.label()));
  };
  const auto in_range = [](double s) { return std::isfinite(s) && s >= 0 && s <= kMaxThinkS; };
  const std::string range = fmt::format("seconds from 0 to {} (a day)", show(kMaxThinkS));
  switch (w.kind) {
    case WaitSpec::Kind::kNone:
      break;
    case WaitSpec::Kind::kConstant:
      if (!in_range(w.min_s) || w.min_s != w.max_s) bad("constant(s) takes " + range);
      break;
    case WaitSpec::Kind::kBetween:
      if (!in_range(w.min_s) || !in_range(w.max_s))
        bad("between(a, b) takes " + range);
      else if (w.min_s > w.max_s)
        bad("between(a, b) needs a <= b");
      break;
    case WaitSpec::Kind::kPacing:
      if (!in_range(w.min_s) || !(w.min_s > 0) || w.min_s != w.max_s)
        bad(fmt::format("constant_pacing(s) takes seconds more than 0, at most {}",
                        show(kMaxThinkS)));
      break;
  }
}

}  // namespace

std::string_view mode_name(Mode m) {
  for (const auto& [mode, name] : kModeNames) {
    if (mode == m) return name;
  }
  return "unknown";
}

std::optional<Mode> mode_from_name(std::string_view s) {
  for (const auto& [mode, name] : kModeNames) {
    if (name == s) return mode;
  }
  return std::nullopt;
}

std::string WaitSpec::label() const {
  switch (kind) {
    case Kind::kNone:
      return "none";
    case Kind::kConstant:
      return fmt::format("constant({})", min_s);
    case Kind::kBetween:
      return fmt::format("between({}, {})", min_s, max_s);
    case Kind::kPacing:
      return fmt::format("constant_pacing({})", min_s);
  }
  return "none";
}

double ProfileSpec::total_s() const {
  if (tabled()) {
    Sum total;
    for (const StageSpec& s : stages) total.add(s.duration_s);
    return total.value();
  }
  return mode == Mode::kRamp ? ramp_up_s + duration_s : duration_s;
}

json Plan::to_json() const {
  json tasks_j = json::array();
  for (const TaskSpec& t : tasks) {
    json tj = {
        {"name", t.name}, {"weight", t.weight}, {"runtime", t.runtime}, {"reason", t.reason}};
    if (t.request) {
      json headers = json::array();
      for (const auto& [k, v] : t.request->headers) headers.push_back({k, v});
      tj["request"] = {{"method", t.request->method},
                       {"path", t.request->path},
                       {"headers", std::move(headers)},
                       {"body", t.request->body}};
      if (!t.request->name.empty()) tj["request"]["name"] = t.request->name;
    }
    tasks_j.push_back(std::move(tj));
  }
  json profile_j = {{"model", profile.model()},
                    {"mode", mode_name(profile.mode)},
                    {"rps", profile.rps},
                    {"duration_s", profile.duration_s},
                    {"ramp_up_s", profile.ramp_up_s},
                    {"steps", profile.steps},
                    {"unlimited", profile.unlimited}};
  if (profile.tabled()) {
    profile_j["stages"] = stages_to_json(profile.stages);
    profile_j["start"] = profile.start;
  }
  if (profile.closed()) {
    std::string_view kind = "none";
    for (const auto& [k, n] : kWaitKinds)
      if (k == profile.wait.kind) kind = n;
    profile_j["users"] = profile.users;
    profile_j["wait"] = {
        {"kind", kind}, {"min_s", profile.wait.min_s}, {"max_s", profile.wait.max_s}};
  }
  json thresholds_j = json::object();
  for (const auto& [key, t] : thresholds) thresholds_j[key] = threshold_to_json(t);
  json out = {
      {"name", name},
      {"file", file},
      {"target", target},
      {"profile", std::move(profile_j)},
      {"max_vusers", max_vusers},
      {"tasks", std::move(tasks_j)},
      {"thresholds", std::move(thresholds_j)},
      {"follow_redirects", follow_redirects},
      {"max_redirects", max_redirects},
      {"http_version", http_version},
      {"max_streams", max_streams},
  };
  if (!custom_metrics.empty()) out["custom_metrics"] = custom_metrics_to_json(custom_metrics);
  if (find_spec) out["find"] = {{"rps_min", find_spec->rps_min}, {"rps_max", find_spec->rps_max}};
  if (start_s > 0) out["start_s"] = start_s;
  if (!groups.empty()) out["groups"] = groups;
  if (several()) {
    // The parts carry the tasks and profiles; the run's are derived.
    json parts = json::array();
    for (const Plan& part : scenarios) parts.push_back(part.to_json());
    return {{"name", name},
            {"file", file},
            {"target", target},
            {"thresholds", std::move(out["thresholds"])},
            {"scenarios", std::move(parts)}};
  }
  return out;
}

Plan Plan::from_json(const json& j) {
  if (!j.is_object()) fail("plan", "a JSON object", j);
  if (const json* v = find(j, "scenarios"); v != nullptr && !v->is_null()) {
    if (!v->is_array() || v->size() < 2) fail("scenarios", "a list of two or more plans", *v);
    std::vector<Plan> parts;
    for (std::size_t i = 0; i < v->size(); ++i) {
      try {
        parts.push_back(from_json((*v)[i]));
      } catch (const PlanError& e) {
        throw PlanError(fmt::format("scenarios[{}].{}", i, e.what()));
      }
      if (parts.back().several())
        fail(fmt::format("scenarios[{}]", i), "a plan of one scenario", (*v)[i]);
    }
    Plan run = combine(std::move(parts), read_string(require(j, "name", "name"), "name"));
    if (const json* f = find(j, "file")) run.file = read_string(*f, "file");
    run.target = read_string(require(j, "target", "target"), "target");
    if (const json* t = find(j, "thresholds"); t != nullptr && !t->is_null()) {
      if (!t->is_object()) fail("thresholds", "an object", *t);
      for (const auto& [key, value] : t->items())
        run.thresholds[key] = threshold_from_json(value, "thresholds." + key);
    }
    return run;
  }
  Plan p;
  p.name = read_string(require(j, "name", "name"), "name");
  if (const json* v = find(j, "file")) p.file = read_string(*v, "file");
  p.target = read_string(require(j, "target", "target"), "target");
  p.profile = profile_from_json(require(j, "profile", "profile"));
  if (const json* v = find(j, "max_vusers"); v != nullptr && !v->is_null()) {
    p.max_vusers = read_int(*v, "max_vusers");
  }
  const json& tasks = require(j, "tasks", "tasks");
  if (!tasks.is_array()) fail("tasks", "a list", tasks);
  for (size_t i = 0; i < tasks.size(); ++i) p.tasks.push_back(task_from_json(tasks[i], i));
  if (const json* v = find(j, "thresholds"); v != nullptr && !v->is_null()) {
    if (!v->is_object()) fail("thresholds", "an object", *v);
    for (const auto& [key, value] : v->items()) {
      p.thresholds[key] = threshold_from_json(value, "thresholds." + key);
    }
  }
  if (const json* v = find(j, "follow_redirects")) {
    if (!v->is_boolean()) fail("follow_redirects", "true or false", *v);
    p.follow_redirects = v->get<bool>();
  }
  if (const json* v = find(j, "max_redirects")) p.max_redirects = read_int(*v, "max_redirects");
  if (const json* v = find(j, "http_version")) p.http_version = read_string(*v, "http_version");
  if (const json* v = find(j, "max_streams")) p.max_streams = read_int(*v, "max_streams");
  if (const json* v = find(j, "custom_metrics")) p.custom_metrics = custom_metrics_from_json(*v);
  if (const json* v = find(j, "find"); v != nullptr && !v->is_null()) {
    if (!v->is_object()) fail("find", "an object", *v);
    FindSpec f;
    if (const json* r = find(*v, "rps_min")) f.rps_min = read_number(*r, "find.rps_min");
    if (const json* r = find(*v, "rps_max")) f.rps_max = read_number(*r, "find.rps_max");
    p.find_spec = f;
  }
  read_optional(j, "start_s", "", &p.start_s);
  if (const json* v = find(j, "groups"); v != nullptr && !v->is_null()) {
    if (!v->is_array()) fail("groups", "a list of names", *v);
    for (const json& g : *v) p.groups.push_back(read_string(g, "groups"));
  }
  return p;
}

namespace {

// The plan's thresholds (plan/thresholds.h, plan/custom_keys.h), each
// message led by its origin when known.
void validate_thresholds(const Plan& plan, std::vector<std::string>* out) {
  std::vector<std::string>& errors = *out;
  for (const auto& [key, t] : plan.thresholds) {
    // A declared custom metric's NAME.STAT (plan/custom_keys.h): judged on
    // the whole run only.
    std::string problem;
    if (const auto custom = custom_key_problem(key, t.limit, plan.custom_metrics)) {
      problem = *custom;
      if (problem.empty() && !t.plain())
        problem =
            "a custom metric's threshold is judged on the whole run: give it a plain "
            "limit (no over, abort_on_fail or abort_after)";
    } else {
      problem = threshold_problem(plan, key, t);
      // Not a run or task metric: perhaps a declared custom metric misspelt.
      if (!problem.empty() && !plan.custom_metrics.empty() &&
          !known_threshold_metric(split_threshold_key(key).metric))
        problem = unknown_threshold_problem(key, plan.custom_metrics);
    }
    if (problem.empty()) continue;
    // The command line's own: "--threshold TEXT: problem"; a file's: led by
    // FILE:LINE, then the field as usual.
    if (t.origin.starts_with("--"))
      errors.push_back(fmt::format("{}: {}", t.origin, problem));
    else if (!t.origin.empty())
      errors.push_back(fmt::format("{}: thresholds.{}: {}", t.origin, key, problem));
    else
      errors.push_back(fmt::format("thresholds.{}: {}", key, problem));
  }
}

}  // namespace

std::vector<std::string> validate(const Plan& plan) {
  std::vector<std::string> errors;
  auto add = [&errors](std::string_view field, std::string_view problem, std::string_view got) {
    errors.push_back(fmt::format("{}: {} (got {})", field, problem, got));
  };
  if (plan.several()) {
    std::set<std::string> names;
    for (const Plan& part : plan.scenarios) {
      if (!names.insert(part.name).second)
        add("scenarios", "each scenario may run once in a run", as_json_string(part.name));
      for (const std::string& e : validate(part))
        errors.push_back(fmt::format("scenarios.{}.{}", part.name, e));
    }
    validate_thresholds(plan, &errors);
    return errors;
  }
  if (!(plan.start_s >= 0 && plan.start_s <= kMaxDurationS))
    add("start", "must be a duration from 0s to " + show(kMaxDurationS) + "s (7 days)",
        show(plan.start_s) + "s");
  else if (plan.start_s > 0 && plan.profile.unlimited)
    add("start", "a closed loop (rps=\"max\") starts at once; start= does not go with it",
        show(plan.start_s) + "s");

  if (plan.find_spec) {
    const FindSpec& f = *plan.find_spec;
    for (const auto& [field, v] :
         {std::pair{"rps_min", f.rps_min}, std::pair{"rps_max", f.rps_max}})
      if (!std::isfinite(v) || v < 0 || v > kMaxRps)
        add(field, fmt::format("must be a number of iterations per second from 0 to {:g}", kMaxRps),
            fmt::format("{}", v));
    if (f.rps_min > 0 && f.rps_max > 0 && f.rps_min > f.rps_max)
      add("rps_max", fmt::format("must be at least rps_min ({:g})", f.rps_min),
          fmt::format("{}", f.rps_max));
  }
  const ProfileSpec& p = plan.profile;
  if (p.users < 0 || p.users > kMaxUsers) {
    add("users", fmt::format("must be a whole number from 1 to {}", kMaxUsers),
        std::to_string(p.users));
  } else if (p.closed()) {
    if (p.unlimited)
      add("rps", "\"max\" is an open-model rate; a closed model (users=) has no rate", "\"max\"");
    validate_wait(p.wait, &errors);
  }
  // A table's rate, users and length are its own (validate_table()).
  if (p.tabled()) validate_table(p, &errors);
  if (p.tabled() && p.unlimited)
    add("rps", "\"max\" is a closed loop without a curve; it does not go with a table", "\"max\"");
  if (!p.unlimited && !p.closed() && !p.tabled()) {
    if (!(p.rps > 0 && std::isfinite(p.rps))) {
      add("rps", "must be a number > 0", show(p.rps));
    } else if (p.rps > kMaxRps) {
      add("rps", fmt::format("must be at most {} iterations/s per run", show(kMaxRps)),
          show(p.rps));
    }
  }
  const std::string max_duration = fmt::format("{}s (7 days)", show(kMaxDurationS));
  if (p.tabled()) {
    // Its length is the table's (validate_table()).
  } else if (!(p.duration_s > 0 && std::isfinite(p.duration_s))) {
    add("duration", "must be > 0", show(p.duration_s) + "s");
  } else if (p.duration_s > kMaxDurationS) {
    add("duration", "must be at most " + max_duration, show(p.duration_s) + "s");
  }
  if (!(p.ramp_up_s >= 0 && std::isfinite(p.ramp_up_s))) {
    add("ramp_up", "must be >= 0", show(p.ramp_up_s) + "s");
  } else if (p.ramp_up_s > kMaxDurationS) {
    add("ramp_up", "must be at most " + max_duration, show(p.ramp_up_s) + "s");
  }
  // No bound by the duration: a ramp runs ramp_up, then duration at the
  // rate (docs/scenarios.md#modes), so a ramp longer than the steady part
  // is a plan like any other.
  if (p.steps < 1) {
    add("steps", "must be >= 1", std::to_string(p.steps));
  } else if (p.steps > kMaxSteps) {
    add("steps", fmt::format("must be at most {}", kMaxSteps), std::to_string(p.steps));
  }
  if (!mode_from_name(mode_name(p.mode))) {
    add("mode", "must be one of ramp, constant, step, spike, stages, shape",
        std::to_string(static_cast<int>(p.mode)));
  }
  if (plan.max_vusers < 0) {
    add("max_vusers", "must be >= 0 (0 lets the runtime choose)", std::to_string(plan.max_vusers));
  } else if (plan.max_vusers > kMaxVUsers) {
    add("max_vusers", fmt::format("must be at most {}", kMaxVUsers),
        std::to_string(plan.max_vusers));
  }

  if (plan.http_version != "auto" && plan.http_version != "1.1" && plan.http_version != "2") {
    add("http_version", "must be \"1.1\" or \"2\" (left out: HTTP/2 over TLS when offered)",
        as_json_string(plan.http_version));
  }
  if (plan.max_streams < 0 || plan.max_streams > kMaxStreams) {
    add("max_streams",
        fmt::format("must be a whole number from 1 to {} (0: the server's limit)", kMaxStreams),
        std::to_string(plan.max_streams));
  }
  if (plan.max_redirects < 0 || plan.max_redirects > kMaxRedirects) {
    add("max_redirects", fmt::format("must be a whole number from 0 to {}", kMaxRedirects),
        std::to_string(plan.max_redirects));
  }

  if (plan.target.empty()) {
    add("target", "required; pass --target http://HOST[:PORT]", as_json_string(plan.target));
  } else {
    std::string why;
    if (!http::Target::parse(plan.target, &why)) {
      if (why.starts_with("target: ")) why.erase(0, 8);
      add("target",
          "must be an http:// or https:// URL with a host" + (why.empty() ? "" : "; " + why),
          as_json_string(plan.target));
    }
  }

  if (plan.tasks.empty()) add("tasks", "at least one @task method is required", "0 tasks");
  std::set<std::string> seen;
  for (const TaskSpec& t : plan.tasks) {
    const std::string field = "tasks." + t.name;
    if (!seen.insert(t.name).second) add(field, "duplicate task name", as_json_string(t.name));
    // The bound also keeps the sum of all weights, which task choice draws
    // from, finite and every task's share representable.
    if (!(t.weight > 0 && std::isfinite(t.weight))) {
      add(field + ".weight", "must be a number > 0", show(t.weight));
    } else if (t.weight > kMaxWeight) {
      add(field + ".weight", fmt::format("must be at most {}", show(kMaxWeight)), show(t.weight));
    }
    if (t.runtime == "native") {
      if (!t.request) {
        add(field + ".request", "a native task needs a request", "none");
      } else {
        validate_request(field + ".request", *t.request, &errors);
      }
    } else if (t.runtime != "python") {
      add(field + ".runtime", "must be \"native\" or \"python\"", as_json_string(t.runtime));
    }
  }

  validate_custom_metrics(plan, &errors);
  validate_thresholds(plan, &errors);
  return errors;
}

std::vector<std::string> take_target_errors(std::vector<std::string>* errors) {
  std::vector<std::string> target;
  std::erase_if(*errors, [&target](const std::string& e) {
    if (!e.starts_with("target: ")) return false;
    target.push_back(e);
    return true;
  });
  return target;
}

}  // namespace loadpilot::plan
