#include "scenario/build_thresholds.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "plan/duration.h"
#include "plan/suggest.h"
#include "scenario/description_json.h"

namespace loadpilot::scenario {
namespace {

using description::as_duration;
using description::field_of;
using description::shown;
using nlohmann::json;

std::string text_of(const json& v) { return v.is_string() ? v.get<std::string>() : ""; }

constexpr const char* kFields[] = {"limit", "over", "abort_on_fail", "abort_after"};

class Reader {
 public:
  explicit Reader(std::vector<std::string>* errors) : errors_(errors) {}

  void add(const std::string& origin, const std::string& field, std::string_view problem,
           const json& got) {
    errors_->push_back(fmt::format("{}{}: {} (got {})", origin.empty() ? "" : origin + ": ", field,
                                   problem, shown(got)));
  }

  // One value as written: a limit, or {"limit", "over", "abort_on_fail",
  // "abort_after"}.
  std::optional<plan::Threshold> read(const json& value, const std::string& field,
                                      const std::string& origin) {
    plan::Threshold t;
    t.origin = origin;
    if (value.is_number() && !value.is_boolean()) {
      t.limit = value.get<double>();
      return t;
    }
    if (!value.is_object()) {
      add(origin, field, "must be a number, or a dict such as {\"limit\": 300, \"over\": \"1m\"}",
          value);
      return std::nullopt;
    }
    bool ok = true;
    const std::vector<std::string> names(std::begin(kFields), std::end(kFields));
    for (const auto& [name, v] : value.items()) {
      if (std::find(names.begin(), names.end(), name) != names.end()) continue;
      const std::string near = plan::nearest(name, names);
      add(origin, field,
          fmt::format("unknown field {}{}; a threshold takes limit, over, abort_on_fail and "
                      "abort_after",
                      name, near.empty() ? "" : "; did you mean " + near + "?"),
          value);
      ok = false;
    }
    const json& limit = field_of(value, "limit");
    if (limit.is_number() && !limit.is_boolean()) {
      t.limit = limit.get<double>();
    } else {
      add(origin, field + ".limit", limit.is_null() ? "is required" : "must be a number", limit);
      ok = false;
    }
    if (const json& over = field_of(value, "over"); !over.is_null()) {
      if (auto s = as_duration(over)) {
        t.over_s = *s;
      } else {
        add(origin, field + ".over", "must be a duration such as \"1m\" or \"30s\"", over);
        ok = false;
      }
    }
    if (const json& abort = field_of(value, "abort_on_fail"); !abort.is_null()) {
      if (abort.is_boolean()) {
        t.abort_on_fail = abort.get<bool>();
      } else {
        add(origin, field + ".abort_on_fail", "must be True or False", abort);
        ok = false;
      }
    }
    if (const json& after = field_of(value, "abort_after"); !after.is_null()) {
      if (auto s = as_duration(after)) {
        t.abort_after_s = *s;
      } else {
        add(origin, field + ".abort_after", "must be a duration such as \"30s\"", after);
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return t;
  }

  // Keys of one decorator's thresholds=; PREFIX scopes them ("checkout.").
  void read_all(const json& given, const std::string& prefix, const std::string& origin,
                const std::string& what, plan::Plan* plan) {
    if (given.is_null()) return;
    if (!given.is_object()) {
      add(origin, what, "must be a dict such as {\"p99_ms\": 50}", given);
      return;
    }
    for (const auto& [key, value] : given.items()) {
      const std::string full = prefix + key;
      if (!prefix.empty() && key.find('.') != std::string::npos) {
        add(origin, "thresholds." + full,
            fmt::format("a task's thresholds= take metrics alone (p99_ms, ...): they are the "
                        "task's; write {} in @scenario(thresholds=...)",
                        key),
            value);
        continue;
      }
      auto t = read(value, "thresholds." + full, origin);
      if (!t) continue;
      if (const auto it = plan->thresholds.find(full); it != plan->thresholds.end()) {
        add(origin, "thresholds." + full,
            fmt::format("is given twice: also at {}; keep one",
                        it->second.origin.empty() ? "the scenario" : it->second.origin),
            value);
        continue;
      }
      plan->thresholds[full] = std::move(*t);
    }
  }

 private:
  std::vector<std::string>* errors_;
};

}  // namespace

void apply_thresholds(const json& description, const Overrides& o, plan::Plan* plan,
                      std::vector<std::string>* errors) {
  Reader reader(errors);
  reader.read_all(field_of(field_of(description, "config"), "thresholds"), "",
                  text_of(field_of(description, "thresholds_at")), "thresholds", plan);
  const json& tasks = field_of(description, "tasks");
  if (tasks.is_array())
    for (const json& task : tasks) {
      const std::string name = text_of(field_of(task, "name"));
      reader.read_all(field_of(task, "thresholds"), name + ".",
                      text_of(field_of(task, "thresholds_at")), "tasks." + name + ".thresholds",
                      plan);
    }
  // The command line's limit replaces the file's, keeping its window and
  // abort.
  for (const auto& [key, text] : o.thresholds) {
    const auto flag = o.threshold_flags.find(key);
    const std::string origin = flag == o.threshold_flags.end() ? "" : flag->second;
    double v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      plan->thresholds.erase(key);
      reader.add(origin, "thresholds." + key, "must be a number", json(text));
      continue;
    }
    plan::Threshold& t = plan->thresholds[key];
    t.limit = v;
    t.origin = origin;
  }
}

}  // namespace loadpilot::scenario
