#include "scenario/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <optional>

#include "plan/duration.h"
#include "plan/stages.h"
#include "scenario/description_json.h"

namespace loadpilot::scenario {
namespace {

using description::field_of;
using description::left_at_default;
using description::shown;
using nlohmann::json;

int line_of(const json& v) { return v.is_number_integer() ? v.get<int>() : 0; }

// Where stages= is written (its row `index` when >= 0), else the class.
int table_line(const json& description, long index) {
  const json& at = field_of(description, "stages_at");
  const json& rows = field_of(at, "rows");
  if (index >= 0 && rows.is_array() && static_cast<std::size_t>(index) < rows.size())
    if (const int line = line_of(rows[static_cast<std::size_t>(index)])) return line;
  if (const int line = line_of(field_of(at, "line"))) return line;
  return line_of(field_of(description, "line"));
}

int shape_line(const json& description) {
  if (const int line = line_of(field_of(field_of(description, "shape"), "line"))) return line;
  return line_of(field_of(description, "line"));
}

std::string at(const std::string& file, int line) {
  return line > 0 ? fmt::format("{}:{}: ", file, line) : file + ": ";
}

// The table's first value as written: a number, or a number of users.
std::optional<double> number(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) return std::nullopt;
  const std::string text = v.get<std::string>();
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

bool has_table(const json& description) {
  return !field_of(field_of(description, "config"), "stages").is_null() ||
         !field_of(description, "shape").is_null();
}

void read_table(const json& description, const Overrides& o, const std::string& file,
                plan::Plan* plan, std::vector<std::string>* errors) {
  const json& config = field_of(description, "config");
  const json& shape = field_of(description, "shape");
  const json& stages = field_of(config, "stages");
  const bool is_shape = !shape.is_null();
  const bool closed = !field_of(config, "users").is_null();
  const std::string where =
      is_shape ? at(file, shape_line(description)) : at(file, table_line(description, -1));
  const std::string what = is_shape ? "a shape() method" : "stages=";
  auto add = [&](const std::string& prefix, std::string_view field, std::string_view problem,
                 const json& got) {
    errors->push_back(fmt::format("{}{}: {} (got {})", prefix, field, problem, shown(got)));
  };
  plan::ProfileSpec& p = plan->profile;

  if (is_shape && !stages.is_null())
    add(where, "stages", "does not go with a shape() method; keep one", stages);
  // The table sets the curve and its length: the shorthands' keywords and
  // their overrides would be silently ignored, so they are refused.
  for (const char* key : {"duration", "ramp_up", "mode", "steps"})
    if (!left_at_default(description, key))
      add(where, key,
          fmt::format("does not go with {}: the table sets the curve and its length", what),
          field_of(config, key));
  for (const char* key : {"rps_min", "rps_max"})
    if (const json& given = field_of(config, key); !given.is_null())
      add(where, key, "applies only to mode=\"find\" (docs/capacity.md)", given);
  const std::pair<const char*, const std::optional<std::string>*> flags[] = {
      {"duration", &o.duration}, {"ramp_up", &o.ramp_up}, {"mode", &o.mode}};
  for (const auto& [key, given] : flags)
    if (*given)
      add(where, key,
          fmt::format("--{} does not apply: scenario {}'s curve is {}",
                      key == std::string_view("ramp_up") ? "ramp-up" : key, plan->name, what),
          json(**given));
  if (o.steps)
    add(where, "steps",
        fmt::format("--steps does not apply: scenario {}'s curve is {}", plan->name, what),
        json(*o.steps));

  // Where the first stage starts: rps= (open) or users= (closed) as
  // written, else 0. A shape's first value is its own.
  p.start = 0;
  if (closed) {
    const json users = o.users ? json(*o.users) : field_of(config, "users");
    const auto v = number(users);
    if (users.is_string() || !v) {
      add(where, "users", "must be a whole number of users to start from (0 is allowed)", users);
    } else if (is_shape && *v != 0) {
      add(where, "users",
          "shape() sets the users; write users=0 to make it a closed model (users loop with "
          "think time)",
          users);
    } else {
      p.start = *v;  // plan::validate() checks it is whole and in range
    }
  } else {
    const json rps = o.rps ? json(*o.rps) : field_of(config, "rps");
    const bool given = o.rps.has_value() || !left_at_default(description, "rps");
    const auto v = number(rps);
    if (given && is_shape) {
      add(where, "rps", "shape() sets the rate; leave rps= out", rps);
    } else if (given && (!v || rps.is_boolean())) {
      add(where, "rps",
          "must be a number of iterations/s for the first stage to start from (\"max\" does not "
          "go with stages=)",
          rps);
    } else if (given) {
      p.start = *v;
    }
  }

  p.stages.clear();
  if (is_shape) {
    p.mode = plan::Mode::kShape;
    if (const json& error = field_of(shape, "error"); error.is_string()) {
      errors->push_back(error.get<std::string>());
    } else {
      try {
        p.stages = plan::stages_from_json(field_of(shape, "stages"));
      } catch (const plan::PlanError& e) {
        errors->push_back(where + "shape(): " + e.what());
      }
    }
  } else {
    p.mode = plan::Mode::kStages;
    if (!stages.is_array()) {
      add(where, "stages",
          "must be a list of (duration, target) pairs such as [(\"30s\", 100), (\"1m\", 0)]",
          stages);
    } else {
      for (std::size_t i = 0; i < stages.size(); ++i) {
        const json& row = stages[i];
        const std::string here = at(file, table_line(description, static_cast<long>(i)));
        const std::string field = fmt::format("stages[{}]", i);
        // A row that cannot be read keeps its place (so later rows keep
        // their numbers) as a harmless one.
        plan::StageSpec s{1, 1};
        if (!row.is_array() || row.size() != 2) {
          add(here, field, "must be a (duration, target) pair such as (\"30s\", 100)", row);
        } else {
          const std::optional<double> d =
              row[0].is_number()   ? std::optional<double>(row[0].get<double>())
              : row[0].is_string() ? plan::parse_duration(row[0].get<std::string>())
                                   : std::nullopt;
          if (!d)
            add(here, field + ".duration",
                "must be a duration like \"30s\", \"2m\", \"1m30s\", \"250ms\" or a number of "
                "seconds",
                row[0]);
          if (!row[1].is_number())
            add(here, field + ".target",
                closed ? "must be a whole number of users" : "must be a number of iterations/s",
                row[1]);
          if (d && row[1].is_number()) s = {*d, row[1].get<double>()};
        }
        p.stages.push_back(s);
      }
    }
  }
  plan::settle_table(&p, closed);
}

std::string locate_table_error(const json& description, const std::string& file,
                               std::string error) {
  if (!has_table(description)) return error;
  if (error.starts_with("shape()")) return at(file, shape_line(description)) + error;
  if (error.starts_with("stages[")) {
    const long index = std::strtol(error.c_str() + 7, nullptr, 10);
    return at(file, table_line(description, index)) + error;
  }
  if (error.starts_with("stages:")) return at(file, table_line(description, -1)) + error;
  // The start is what the user wrote as rps= or users=.
  if (error.starts_with("start:")) {
    const bool closed = !field_of(field_of(description, "config"), "users").is_null();
    return at(file, table_line(description, -1)) + (closed ? "users" : "rps") + error.substr(5);
  }
  return error;
}

}  // namespace loadpilot::scenario
