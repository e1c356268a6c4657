#include "plan/plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace loadpilot::plan {
namespace {

Plan valid_plan() {
  Plan p;
  p.name = "Browse";
  p.file = "scenarios/browse.py";
  p.target = "http://127.0.0.1:8000";
  p.profile = {Mode::kRamp, 200, 30, 5, 5, false, 0, {}};
  TaskSpec products;
  products.name = "products";
  products.weight = 5;
  products.reason = "the task body records one fixed request";
  products.request = HttpRequestSpec{
      "GET", "/api/products?page=1", {{"Accept", "application/json"}}, "", "list products"};
  TaskSpec login;
  login.name = "login";
  login.request = HttpRequestSpec{"POST", "/login", {}, R"({"user": "ann"})", ""};
  p.tasks = {products, login};
  p.thresholds = {{"p99_ms", 50}, {"error_rate", 1.0}};
  return p;
}

bool contains(const std::vector<std::string>& errors, const std::string& wanted) {
  return std::find(errors.begin(), errors.end(), wanted) != errors.end();
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

TEST(Mode, NamesRoundTrip) {
  for (Mode m : {Mode::kRamp, Mode::kConstant, Mode::kStep, Mode::kSpike}) {
    EXPECT_EQ(mode_from_name(mode_name(m)), m);
  }
  EXPECT_EQ(mode_name(Mode::kConstant), "constant");
  EXPECT_FALSE(mode_from_name("Ramp").has_value());
  EXPECT_FALSE(mode_from_name("").has_value());
}

TEST(ProfileSpec, TotalAddsRampUpOnlyInRampMode) {
  ProfileSpec p{Mode::kRamp, 10, 30, 5, 5, false, 0, {}};
  EXPECT_DOUBLE_EQ(p.total_s(), 35);
  for (Mode m : {Mode::kConstant, Mode::kStep, Mode::kSpike}) {
    p.mode = m;
    EXPECT_DOUBLE_EQ(p.total_s(), 30);
  }
}

TEST(SeveralScenarios, CombineFlattensTasksAndTheJsonRoundTrips) {
  Plan browse = valid_plan();
  Plan partner = valid_plan();
  partner.name = "Partner";
  partner.profile = {Mode::kConstant, 50, 10, 0, 5, false, 0, {}};
  partner.start_s = 30;
  partner.groups = {"nightly"};
  partner.tasks.resize(1);
  const Plan run = combine({browse, partner}, "nightly");
  ASSERT_TRUE(run.several());
  ASSERT_EQ(run.tasks.size(), 3u);
  EXPECT_EQ(run.tasks[0].name, "Browse.products");
  EXPECT_EQ(run.tasks[2].name, "Partner.products");
  EXPECT_EQ(run.task_home(2), (std::pair<std::size_t, std::size_t>{1, 0}));
  EXPECT_DOUBLE_EQ(run_length_s(run), 40);  // Partner: 30 s wait + 10 s
  EXPECT_DOUBLE_EQ(run.profile.rps, 250);
  EXPECT_TRUE(validate(run).empty());

  const nlohmann::json j = run.to_json();
  EXPECT_FALSE(j.contains("tasks"));
  ASSERT_EQ(j["scenarios"].size(), 2u);
  EXPECT_EQ(j["scenarios"][1]["start_s"], 30);
  EXPECT_EQ(j["scenarios"][1]["groups"], nlohmann::json::array({"nightly"}));
  EXPECT_FALSE(j["scenarios"][0].contains("start_s"));
  const Plan back = Plan::from_json(j);
  EXPECT_EQ(back.to_json(), j);
  EXPECT_EQ(back.tasks.size(), 3u);
  EXPECT_DOUBLE_EQ(back.scenarios[1].start_s, 30);
}

TEST(SeveralScenarios, TheRunsOwnThresholdsSurviveTheJson) {
  Plan partner = valid_plan();
  partner.name = "Partner";
  Plan run = combine({valid_plan(), partner}, "mix");
  Threshold windowed(2.5);
  windowed.over_s = 5;
  run.thresholds["p99_ms"] = 500;
  run.thresholds["Partner.products.error_rate"] = windowed;
  EXPECT_TRUE(validate(run).empty()) << ::testing::PrintToString(validate(run));
  const nlohmann::json j = run.to_json();
  EXPECT_EQ(j["thresholds"]["p99_ms"], 500);
  ASSERT_TRUE(j["thresholds"].contains("Partner.products.error_rate")) << j.dump();
  const Plan back = Plan::from_json(j);
  EXPECT_EQ(back.thresholds, run.thresholds);
  EXPECT_EQ(back.to_json(), j);
  // A key naming what the run has not is refused, as in a run of one.
  run.thresholds["Partner.nothing.p99_ms"] = 1;
  const auto problems = validate(run);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].rfind("thresholds.Partner.nothing.p99_ms: ", 0), 0u) << problems[0];
}

TEST(SeveralScenarios, ValidateNamesTheScenarioOfEachProblem) {
  Plan a = valid_plan();
  Plan b = valid_plan();
  b.name = "Partner";
  b.start_s = -1;
  b.profile.rps = -5;
  Plan run = combine({a, b, a}, "run");
  const std::vector<std::string> errors = validate(run);
  const auto has = [&](const std::string& prefix) {
    return std::any_of(errors.begin(), errors.end(),
                       [&](const std::string& e) { return e.starts_with(prefix); });
  };
  EXPECT_TRUE(has("scenarios.Partner.start: must be a duration")) << errors.size();
  EXPECT_TRUE(has("scenarios.Partner.rps: must be a number > 0"));
  EXPECT_TRUE(has("scenarios: each scenario may run once in a run (got \"Browse\")"));
  EXPECT_THROW(
      Plan::from_json(nlohmann::json{
          {"name", "x"}, {"target", "http://h"}, {"scenarios", nlohmann::json::array({1, 2})}}),
      PlanError);
}

TEST(Validate, ValidPlanHasNoErrors) {
  auto errors = validate(valid_plan());
  EXPECT_TRUE(errors.empty()) << joined(errors);
}

TEST(Validate, EachProfileRule) {
  Plan p = valid_plan();
  p.profile.rps = -5;
  EXPECT_EQ(validate(p), std::vector<std::string>{"rps: must be a number > 0 (got -5)"});
  p.profile.unlimited = true;  // closed loop ignores rps
  EXPECT_TRUE(validate(p).empty());

  p = valid_plan();
  p.profile.duration_s = 0;
  EXPECT_TRUE(contains(validate(p), "duration: must be > 0 (got 0s)")) << joined(validate(p));

  p = valid_plan();
  p.profile.ramp_up_s = -1;
  EXPECT_EQ(validate(p), std::vector<std::string>{"ramp_up: must be >= 0 (got -1s)"});
  // A ramp runs ramp_up, then duration at the rate: a ramp longer than the
  // steady part is valid (docs/scenarios.md#modes).
  p.profile.ramp_up_s = 40;
  EXPECT_TRUE(validate(p).empty()) << joined(validate(p));
  EXPECT_EQ(p.profile.total_s(), 70);
  p.profile.mode = Mode::kConstant;  // ramp_up is not used outside ramp mode
  EXPECT_TRUE(validate(p).empty());
  p.profile.mode = Mode::kRamp;
  p.profile.duration_s = 0;
  EXPECT_EQ(validate(p), (std::vector<std::string>{"duration: must be > 0 (got 0s)"}));
  p.profile.mode = Mode::kConstant;
  p.profile.duration_s = 30;
  EXPECT_TRUE(validate(p).empty());

  p = valid_plan();
  p.profile.steps = 0;
  EXPECT_EQ(validate(p), std::vector<std::string>{"steps: must be >= 1 (got 0)"});

  p = valid_plan();
  p.profile.mode = static_cast<Mode>(9);
  EXPECT_EQ(validate(p),
            std::vector<std::string>{
                "mode: must be one of ramp, constant, step, spike, stages, shape (got 9)"});

  p = valid_plan();
  p.max_vusers = -1;
  EXPECT_EQ(validate(p), std::vector<std::string>{
                             "max_vusers: must be >= 0 (0 lets the runtime choose) (got -1)"});
}

TEST(Validate, Target) {
  Plan p = valid_plan();
  for (const char* good :
       {"http://localhost", "https://example.test:8443/base", "http://[::1]:80"}) {
    p.target = good;
    EXPECT_TRUE(validate(p).empty()) << good << ": " << joined(validate(p));
  }
  p.target = "";
  EXPECT_EQ(validate(p), std::vector<std::string>{
                             "target: required; pass --target http://HOST[:PORT] (got \"\")"});
  for (const char* bad : {"ftp://host", "127.0.0.1:8000", "http://"}) {
    p.target = bad;
    auto errors = validate(p);
    ASSERT_EQ(errors.size(), 1u) << bad;
    EXPECT_TRUE(errors[0].starts_with("target: must be an http:// or https:// URL with a host"))
        << errors[0];
    EXPECT_TRUE(errors[0].ends_with("(got \"" + std::string(bad) + "\")")) << errors[0];
  }
}

TEST(Validate, Tasks) {
  Plan p = valid_plan();
  p.tasks.clear();
  EXPECT_EQ(validate(p),
            std::vector<std::string>{"tasks: at least one @task method is required (got 0 tasks)"});

  p = valid_plan();
  p.tasks[0].weight = 0;
  p.tasks[1].request->method = "FETCH";
  EXPECT_EQ(validate(p), (std::vector<std::string>{
                             "tasks.products.weight: must be a number > 0 (got 0)",
                             "tasks.login.request.method: must be one of GET, POST, PUT, PATCH, "
                             "DELETE, HEAD, OPTIONS (got \"FETCH\")"}));

  p = valid_plan();
  p.tasks[0].request->path = "api/products";
  p.tasks[1].request.reset();
  EXPECT_EQ(validate(p), (std::vector<std::string>{
                             "tasks.products.request.path: must start with \"/\" (got "
                             "\"api/products\")",
                             "tasks.login.request: a native task needs a request (got none)"}));

  p = valid_plan();
  p.tasks[1].runtime = "python";
  p.tasks[1].request.reset();  // the Python runtime runs the body instead
  EXPECT_TRUE(validate(p).empty());
  p.tasks[1].runtime = "lua";
  EXPECT_EQ(validate(p),
            std::vector<std::string>{
                "tasks.login.runtime: must be \"native\" or \"python\" (got \"lua\")"});

  p = valid_plan();
  p.tasks[1].name = "products";
  EXPECT_EQ(validate(p),
            std::vector<std::string>{"tasks.products: duplicate task name (got \"products\")"});

  p = valid_plan();
  p.tasks[0].request->headers = {{"Bad Name", "x"}, {"X-Ok", "a\r\nInjected: 1"}};
  EXPECT_EQ(validate(p),
            (std::vector<std::string>{
                "tasks.products.request.headers: invalid header name (got \"Bad Name\")",
                "tasks.products.request.headers.X-Ok: must not contain line breaks (got "
                "\"a\\r\\nInjected: 1\")"}));
}

TEST(Validate, Thresholds) {
  Plan p = valid_plan();
  p.thresholds = {{"p98_ms", 50}, {"p95_ms", -1}, {"max_ms", 0}};
  EXPECT_EQ(validate(p), (std::vector<std::string>{
                             "thresholds.p95_ms: must be a finite number >= 0 (got -1)",
                             "thresholds.p98_ms: unknown threshold; did you mean p95_ms?; use "
                             "one of p50_ms, p95_ms, p99_ms, max_ms, error_rate, alone or after "
                             "a task's name (TASK.p99_ms) (got 50)"}));
}

TEST(Validate, ThresholdsMustBeFinite) {
  Plan p = valid_plan();
  p.thresholds = {{"p99_ms", INFINITY}, {"error_rate", NAN}};
  EXPECT_EQ(validate(p), (std::vector<std::string>{
                             "thresholds.error_rate: must be a finite number >= 0 (got nan)",
                             "thresholds.p99_ms: must be a finite number >= 0 (got inf)"}));
}

TEST(Validate, UpperBounds) {
  Plan p = valid_plan();
  p.profile.rps = kMaxRps;  // the limit itself is allowed
  p.profile.duration_s = kMaxDurationS;
  p.profile.steps = kMaxSteps;
  p.max_vusers = kMaxVUsers;
  p.tasks[0].weight = kMaxWeight;
  EXPECT_TRUE(validate(p).empty()) << joined(validate(p));

  p.profile.rps = 1e12;
  EXPECT_EQ(validate(p),
            std::vector<std::string>{
                "rps: must be at most 10000000 iterations/s per run (got 1000000000000)"});
  p.profile.rps = INFINITY;
  EXPECT_EQ(validate(p), std::vector<std::string>{"rps: must be a number > 0 (got inf)"});

  p = valid_plan();
  p.profile.duration_s = 1e9;
  EXPECT_EQ(validate(p), std::vector<std::string>{
                             "duration: must be at most 604800s (7 days) (got 1000000000s)"});
  p = valid_plan();
  p.profile.mode = Mode::kConstant;
  p.profile.ramp_up_s = 1e9;
  EXPECT_EQ(validate(p), std::vector<std::string>{
                             "ramp_up: must be at most 604800s (7 days) (got 1000000000s)"});
  p.profile.ramp_up_s = NAN;
  EXPECT_EQ(validate(p), std::vector<std::string>{"ramp_up: must be >= 0 (got nans)"});

  p = valid_plan();
  p.profile.steps = kMaxSteps + 1;
  EXPECT_EQ(validate(p), std::vector<std::string>{"steps: must be at most 1000 (got 1001)"});

  p = valid_plan();
  p.max_vusers = kMaxVUsers + 1;
  EXPECT_EQ(validate(p),
            std::vector<std::string>{"max_vusers: must be at most 100000 (got 100001)"});
}

TEST(Validate, WeightsThatWouldOverflowTheirSum) {
  // Two weights of 1e308 add up to infinity: task choice would starve
  // every task. Each is named with its value.
  Plan p = valid_plan();
  p.tasks[0].weight = 1e308;
  p.tasks[1].weight = 1e308;
  EXPECT_EQ(validate(p),
            (std::vector<std::string>{"tasks.products.weight: must be at most 1000000 (got 1e+308)",
                                      "tasks.login.weight: must be at most 1000000 (got 1e+308)"}));
  p.tasks[0].weight = INFINITY;
  p.tasks[1].weight = NAN;
  EXPECT_EQ(validate(p),
            (std::vector<std::string>{"tasks.products.weight: must be a number > 0 (got inf)",
                                      "tasks.login.weight: must be a number > 0 (got nan)"}));
}

TEST(Validate, TargetErrorsAreSeparable) {
  Plan p = valid_plan();
  p.target = "ftp://x";
  p.profile.rps = -1;
  std::vector<std::string> errors = validate(p);
  const std::vector<std::string> target = take_target_errors(&errors);
  EXPECT_EQ(errors, std::vector<std::string>{"rps: must be a number > 0 (got -1)"});
  EXPECT_EQ(target,
            std::vector<std::string>{
                "target: must be an http:// or https:// URL with a host; unsupported "
                "scheme \"ftp\" in \"ftp://x\" (use http:// or https://) (got \"ftp://x\")"});
}

TEST(Validate, ReportsEveryProblemAtOnce) {
  Plan p = valid_plan();
  p.profile.rps = 0;
  p.profile.duration_s = -1;
  p.profile.steps = 0;
  p.target = "nope";
  p.tasks[0].weight = -2;
  p.profile.ramp_up_s = -1;
  p.thresholds["latency"] = 3;
  auto errors = validate(p);
  EXPECT_EQ(errors.size(), 7u) << joined(errors);
  for (const char* field : {"rps:", "duration:", "ramp_up:", "steps:", "target:",
                            "tasks.products.weight:", "thresholds.latency:"}) {
    EXPECT_TRUE(std::any_of(errors.begin(), errors.end(),
                            [&](const std::string& e) { return e.starts_with(field); }))
        << field << "\n"
        << joined(errors);
  }
}

TEST(PlanJson, RoundTrip) {
  Plan p = valid_plan();
  p.max_vusers = 64;
  p.profile.unlimited = true;
  p.tasks[1].runtime = "python";
  p.tasks[1].reason = "calls on_start";
  p.tasks[1].request.reset();
  nlohmann::json j = p.to_json();
  EXPECT_EQ(j["profile"]["mode"], "ramp");
  EXPECT_EQ(j["profile"]["duration_s"], 30.0);
  EXPECT_EQ(j["tasks"][0]["request"]["headers"][0][1], "application/json");
  EXPECT_FALSE(j["tasks"][1].contains("request"));
  EXPECT_EQ(j["thresholds"]["p99_ms"], 50.0);

  Plan back = Plan::from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back.to_json(), j);
  EXPECT_EQ(back.name, "Browse");
  EXPECT_EQ(back.file, "scenarios/browse.py");
  EXPECT_EQ(back.max_vusers, 64);
  EXPECT_TRUE(back.profile.unlimited);
  ASSERT_EQ(back.tasks.size(), 2u);
  EXPECT_EQ(back.tasks[0].request->path, "/api/products?page=1");
  EXPECT_EQ(back.tasks[0].request->name, "list products");  // its sub-row
  EXPECT_EQ(back.tasks[0].request->headers,
            (std::vector<std::pair<std::string, std::string>>{{"Accept", "application/json"}}));
  EXPECT_EQ(back.tasks[1].runtime, "python");
  EXPECT_FALSE(back.tasks[1].request.has_value());
}

TEST(PlanJson, ClosedModelRoundTrips) {
  Plan p = valid_plan();
  p.profile.users = 40;
  p.profile.rps = 0;
  p.profile.mode = Mode::kStep;
  p.profile.wait.kind = WaitSpec::Kind::kBetween;
  p.profile.wait.min_s = 0.5;
  p.profile.wait.max_s = 2;
  const nlohmann::json j = p.to_json();
  EXPECT_EQ(j["profile"]["model"], "closed");
  EXPECT_EQ(j["profile"]["users"], 40);
  EXPECT_EQ(j["profile"]["wait"]["kind"], "between");
  const Plan back = Plan::from_json(j);
  EXPECT_TRUE(back.profile.closed());
  EXPECT_EQ(back.profile.users, 40);
  EXPECT_EQ(back.profile.wait.kind, WaitSpec::Kind::kBetween);
  EXPECT_EQ(back.profile.wait.min_s, 0.5);
  EXPECT_EQ(back.profile.wait.max_s, 2);
  EXPECT_EQ(back.profile.wait.label(), "between(0.5, 2)");
  EXPECT_TRUE(validate(back).empty()) << joined(validate(back));
  // An open plan says so and has no users.
  const nlohmann::json open = valid_plan().to_json();
  EXPECT_EQ(open["profile"]["model"], "open");
  EXPECT_FALSE(open["profile"].contains("users"));
  // A closed model without users is no plan.
  nlohmann::json bad = j;
  bad["profile"].erase("users");
  EXPECT_THROW(Plan::from_json(bad), PlanError);
  bad = j;
  bad["profile"]["wait"]["kind"] = "sometimes";
  EXPECT_THROW(Plan::from_json(bad), PlanError);
}

TEST(Validate, ClosedModelRules) {
  Plan p = valid_plan();
  p.profile.users = 10;
  p.profile.rps = 0;  // no rate in a closed model: not an error
  EXPECT_TRUE(validate(p).empty()) << joined(validate(p));
  p.profile.users = kMaxUsers + 1;
  EXPECT_TRUE(contains(validate(p), "users: must be a whole number from 1 to 100000 (got 100001)"))
      << joined(validate(p));
  p.profile.users = 10;
  p.profile.wait = {WaitSpec::Kind::kBetween, 3, 1};
  EXPECT_TRUE(contains(validate(p), "wait: between(a, b) needs a <= b (got between(3, 1))"))
      << joined(validate(p));
  p.profile.wait = {WaitSpec::Kind::kConstant, -1, -1};
  EXPECT_TRUE(contains(
      validate(p), "wait: constant(s) takes seconds from 0 to 86400 (a day) (got constant(-1))"))
      << joined(validate(p));
  p.profile.wait = {WaitSpec::Kind::kPacing, 0, 0};
  EXPECT_EQ(validate(p).size(), 1u) << joined(validate(p));
  p.profile.wait = {WaitSpec::Kind::kBetween, 0, NAN};
  EXPECT_EQ(validate(p).size(), 1u) << joined(validate(p));
  p.profile.wait = {};
  p.profile.unlimited = true;
  EXPECT_EQ(validate(p).size(), 1u) << joined(validate(p));
}

TEST(PlanJson, RedirectSettingsRoundTripAndAreBounded) {
  Plan p = valid_plan();
  EXPECT_FALSE(p.follow_redirects);
  EXPECT_EQ(p.max_redirects, kDefaultRedirects);
  p.follow_redirects = true;
  p.max_redirects = 5;
  const nlohmann::json j = p.to_json();
  EXPECT_EQ(j["follow_redirects"], true);
  EXPECT_EQ(j["max_redirects"], 5);
  Plan back = Plan::from_json(nlohmann::json::parse(j.dump()));
  EXPECT_TRUE(back.follow_redirects);
  EXPECT_EQ(back.max_redirects, 5);
  EXPECT_EQ(back.to_json(), j);

  p.max_redirects = 0;
  EXPECT_TRUE(validate(p).empty()) << joined(validate(p));
  p.max_redirects = kMaxRedirects;
  EXPECT_TRUE(validate(p).empty()) << joined(validate(p));
  p.max_redirects = kMaxRedirects + 1;
  EXPECT_EQ(validate(p), std::vector<std::string>{
                             "max_redirects: must be a whole number from 0 to 100 (got 101)"});
  p.max_redirects = -1;
  EXPECT_EQ(validate(p), std::vector<std::string>{
                             "max_redirects: must be a whole number from 0 to 100 (got -1)"});
  try {
    Plan::from_json(nlohmann::json::parse(
        R"({"name": "S", "target": "x", "profile": {}, "tasks": [], "follow_redirects": 1})"));
    ADD_FAILURE() << "follow_redirects: 1 was accepted";
  } catch (const PlanError& e) {
    EXPECT_EQ(std::string(e.what()), "follow_redirects: expected true or false (got 1)");
  }
}

TEST(PlanJson, OptionalFieldsDefault) {
  auto j = nlohmann::json::parse(R"({"name": "S", "target": "http://h", "profile": {},
      "tasks": [{"name": "t", "request": {"path": "/"}}]})");
  Plan p = Plan::from_json(j);
  EXPECT_EQ(p.profile.mode, Mode::kRamp);
  EXPECT_DOUBLE_EQ(p.profile.rps, 10);
  EXPECT_EQ(p.max_vusers, 0);
  EXPECT_DOUBLE_EQ(p.tasks[0].weight, 1);
  EXPECT_EQ(p.tasks[0].request->method, "GET");
  EXPECT_FALSE(p.follow_redirects);
  EXPECT_EQ(p.max_redirects, 20);
  EXPECT_TRUE(validate(p).empty()) << joined(validate(p));
}

TEST(PlanJson, ErrorsNameTheField) {
  auto error_of = [](const char* text) -> std::string {
    try {
      Plan::from_json(nlohmann::json::parse(text));
    } catch (const PlanError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error_of("[]"), "plan: expected a JSON object (got [])");
  EXPECT_EQ(error_of(R"({"target": "x", "profile": {}, "tasks": []})"),
            "name: required field is missing");
  EXPECT_EQ(error_of(R"({"name": "S", "target": "x", "profile": {"rps": "fast"}, "tasks": []})"),
            "profile.rps: expected a number (got \"fast\")");
  EXPECT_EQ(
      error_of(R"({"name": "S", "target": "x", "profile": {"mode": "warp"}, "tasks": []})"),
      "profile.mode: expected one of ramp, constant, step, spike, stages, shape (got \"warp\")");
  EXPECT_EQ(error_of(R"({"name": "S", "target": "x", "profile": {"steps": 2.5}, "tasks": []})"),
            "profile.steps: expected a whole number (got 2.5)");
  EXPECT_EQ(error_of(R"({"name": "S", "target": "x", "profile": {},
                         "tasks": [{"name": "t", "weight": "heavy"}]})"),
            "tasks.t.weight: expected a number (got \"heavy\")");
  EXPECT_EQ(error_of(R"({"name": "S", "target": "x", "profile": {},
                         "tasks": [{"name": "t", "request": {"method": "GET"}}]})"),
            "tasks.t.request.path: required field is missing");
  EXPECT_EQ(error_of(R"({"name": "S", "target": "x", "profile": {}, "tasks": [{}]})"),
            "tasks[0].name: required field is missing");
  EXPECT_EQ(error_of(R"({"name": "S", "target": "x", "profile": {}, "tasks": [],
                         "thresholds": {"p99_ms": "fast"}})"),
            "thresholds.p99_ms: expected a number (got \"fast\")");
}

// Found by the plan fuzz harness: an unsigned number past INT64_MAX was read
// through a signed conversion and wrapped into the int range (steps -5).
TEST(PlanJson, HugeWholeNumbersAreRejectedNotWrapped) {
  for (const char* huge : {"18446744073709551611", "9223372036854775808", "2147483648"}) {
    const std::string text = std::string(R"({"name": "S", "target": "x", "profile": {"steps": )") +
                             huge + R"(}, "tasks": []})";
    try {
      Plan p = Plan::from_json(nlohmann::json::parse(text));
      ADD_FAILURE() << huge << " read as steps " << p.profile.steps;
    } catch (const PlanError& e) {
      EXPECT_EQ(std::string(e.what()),
                std::string("profile.steps: expected a whole number (got ") + huge + ")");
    }
  }
  const auto j = nlohmann::json::parse(R"({"name": "S", "target": "x", "profile": {"steps": 7},
      "max_vusers": 2147483647, "tasks": []})");
  EXPECT_EQ(Plan::from_json(j).profile.steps, 7);
  EXPECT_EQ(Plan::from_json(j).max_vusers, 2147483647);
}

}  // namespace
}  // namespace loadpilot::plan
