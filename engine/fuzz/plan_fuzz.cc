// Fuzz target: plan::Plan::from_json, plan::validate and Plan::to_json
// (engine/plan/plan.h): the plan the scenario loader produces and agent
// processes receive.
//
// Input: JSON text (inputs that are not JSON are skipped: the JSON parser is
// not the code under test).
//
// Invariants (for a plan of several scenarios, each part's too):
//  * from_json returns or throws PlanError; any other exception is a
//    finding;
//  * whole-number fields read back what the JSON holds (no wrap-around of
//    large numbers into the int range);
//  * validate() does not throw, and each problem is "FIELD: PROBLEM";
//  * parse -> serialise -> parse: from_json(to_json(plan)) succeeds and
//    serialises to the same JSON, also through text (dump and parse), and
//    validates to the same problems.
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz/fuzz_support.h"
#include "plan/plan.h"

namespace {

using loadpilot::plan::Plan;
using loadpilot::plan::PlanError;
using nlohmann::json;

// Whether `got` equals the JSON number `j` as a mathematical value.
bool same_number(long long got, const json& j) {
  if (j.is_number_unsigned()) {
    return got >= 0 && static_cast<std::uint64_t>(got) == j.get<std::uint64_t>();
  }
  if (j.is_number_integer()) return got == j.get<std::int64_t>();
  if (j.is_number_float()) return static_cast<double>(got) == j.get<double>();
  return false;
}

void check_int_field(const json& obj, const char* key, int got) {
  if (!obj.is_object()) return;
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return;
  FUZZ_CHECK(same_number(got, *it),
             std::string(key) + ": JSON " + it->dump() + " read as " + std::to_string(got));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const json j = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  Plan plan;
  try {
    plan = Plan::from_json(j);
  } catch (const PlanError& e) {
    FUZZ_CHECK(std::string(e.what()).find(": ") != std::string::npos,
               std::string("PlanError without a field: ") + e.what());
    return 0;
  }
  if (plan.several()) {
    // A run of several scenarios (plan/several.cc): each part as a plan of one.
    const json& parts = j.at("scenarios");
    for (std::size_t i = 0; i < plan.scenarios.size() && i < parts.size(); ++i) {
      if (parts[i].contains("profile"))
        check_int_field(parts[i]["profile"], "steps", plan.scenarios[i].profile.steps);
      check_int_field(parts[i], "max_vusers", plan.scenarios[i].max_vusers);
    }
  } else {
    if (j.contains("profile")) check_int_field(j["profile"], "steps", plan.profile.steps);
    check_int_field(j, "max_vusers", plan.max_vusers);
  }

  const auto problems = loadpilot::plan::validate(plan);
  for (const std::string& p : problems) {
    FUZZ_CHECK(p.find(": ") != std::string::npos && p.find(": ") > 0, "problem: " + p);
  }

  const json once = plan.to_json();
  Plan again;
  try {
    again = Plan::from_json(once);
  } catch (const PlanError& e) {
    FUZZ_CHECK(false, std::string("to_json() output rejected: ") + e.what());
  }
  FUZZ_CHECK(again.to_json() == once, "round trip changed the plan: " + once.dump());
  FUZZ_CHECK(Plan::from_json(json::parse(once.dump())).to_json() == once,
             "round trip through text changed the plan: " + once.dump());
  FUZZ_CHECK(loadpilot::plan::validate(again) == problems, "validate() differs after round trip");
  return 0;
}
