#include "cli/arguments.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "metrics/thresholds.h"
#include "monitor/exporter.h"
#include "plan/plan.h"

namespace loadpilot::cli {

namespace {

std::string shown(double v) { return fmt::format("{}", v); }

// Plain decimal digits with an optional leading '-': what a person types.
// Rules out CLI11's other readings ("0x10", "010", "+5", " 5").
bool plain_integer_text(std::string_view s) {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool looks_like_number(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

// Every spelling of the options of `app` ("--target", "-t"), hidden ones
// left out.
std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_group().empty()) continue;
    for (const std::string& l : o->get_lnames()) names.push_back("--" + l);
    for (const std::string& s : o->get_snames()) names.push_back("-" + s);
  }
  return names;
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(sub->get_name());
  return names;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string near = nearest(word, candidates);
  return near.empty() ? "" : fmt::format("; did you mean '{}'?", near);
}

// The first option in args that `app` does not know, or "".
std::string first_unknown_option(const CLI::App& app, const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-' || looks_like_number(a)) continue;
    // "--name=value" and "-tVALUE" name their option in the head.
    const std::string name = a[1] == '-' ? a.substr(0, a.find('=')) : a.substr(0, 2);
    if (app.get_option_no_throw(name) == nullptr) return name;
  }
  return "";
}

}  // namespace

CLI::Validator whole_number(long long min, long long max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        long long value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (!plain_integer_text(text) || ec != std::errc() || end != text.data() + text.size() ||
            value < min || value > max) {
          return fmt::format("must be a whole number from {} to {} (got \"{}\")", min, max, text);
        }
        text = std::to_string(value);
        return "";
      },
      "");
}

CLI::Validator auto_or_whole_number(long long min, long long max) {
  const CLI::Validator number = whole_number(min, max);
  return CLI::Validator(
      [number, min, max](std::string& text) -> std::string {
        if (text == "auto") return "";
        std::string copy = text;
        if (number(copy).empty()) {
          text = copy;
          return "";
        }
        return fmt::format("must be a whole number from {} to {} or auto (got \"{}\")", min, max,
                           text);
      },
      "");
}

CLI::Validator unsigned_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        unsigned long long value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (!plain_integer_text(text) || text.front() == '-' || ec != std::errc() ||
            end != text.data() + text.size()) {
          return fmt::format("must be a whole number from 0 to {} (got \"{}\")",
                             std::numeric_limits<std::uint64_t>::max(), text);
        }
        text = std::to_string(value);
        return "";
      },
      "");
}

CLI::Validator real_number(double min, double max, std::string_view unit) {
  return CLI::Validator(
      [min, max, unit = std::string(unit)](std::string& text) -> std::string {
        double value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
            !std::isfinite(value) || value < min || value > max) {
          return fmt::format("must be a number from {} to {}{} (got \"{}\")", shown(min),
                             shown(max), unit.empty() ? "" : " " + unit, text);
        }
        text = fmt::format("{}", value);  // shortest text that reads back exactly
        return "";
      },
      "");
}

CLI::Validator listen_host(bool ipv6) {
  return CLI::Validator(
      [ipv6](std::string& text) -> std::string {
        try {
          text = monitor::resolve_listen_host("", text, ipv6);
        } catch (const monitor::ExporterError& e) {
          // The message starts with the empty flag's ": "; CLI11 adds the name.
          return std::string(e.what()).substr(2);
        }
        return "";
      },
      "");
}

std::vector<std::string>::const_iterator command_word(const std::vector<std::string>& argv) {
  return std::find_if(argv.begin(), argv.end(),
                      [](const std::string& a) { return !a.starts_with("-"); });
}

std::string explain_parse_error(CLI::App& app, const CLI::ParseError& e,
                                const std::vector<std::string>& argv) {
  const std::vector<std::string> commands = command_names(app);
  const auto first = command_word(argv);
  const std::vector<std::string> before(argv.begin(), first);
  if (std::string unknown = first_unknown_option(app, before); !unknown.empty()) {
    std::vector<std::string> names = option_names(app);
    return fmt::format("unknown option '{}'{}", unknown, did_you_mean(unknown, names));
  }
  if (first == argv.end()) {
    return fmt::format(
        "no command given; use one of: {} ('loadpilot help COMMAND' shows its "
        "options)",
        joined(commands));
  }
  const std::string command = *first;
  const auto subs = app.get_subcommands([&](CLI::App* a) { return a->get_name() == command; });
  CLI::App* sub = subs.empty() ? nullptr : subs.front();
  if (sub == nullptr) {
    const std::string hint = did_you_mean(*first, commands);
    return fmt::format("unknown command '{}'{}", *first,
                       hint.empty() ? "; the commands are " + joined(commands) : hint);
  }
  const std::vector<std::string> rest(first + 1, argv.end());
  if (std::string unknown = first_unknown_option(*sub, rest); !unknown.empty()) {
    return fmt::format("unknown option '{}' for '{}'{}", unknown, sub->get_name(),
                       did_you_mean(unknown, option_names(*sub)));
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    // CLI11's message lists the extras after ": ", last first; name the
    // first one as written.
    const std::string message = e.what();
    const auto colon = message.find(": ");
    std::vector<std::string> extras;
    if (colon != std::string::npos) {
      std::string_view list(message);
      list.remove_prefix(colon + 2);
      while (!list.empty()) {
        const auto space = list.find(' ');
        extras.emplace_back(list.substr(0, space));
        list.remove_prefix(space == std::string_view::npos ? list.size() : space + 1);
      }
    }
    for (const std::string& a : rest) {
      if (std::find(extras.begin(), extras.end(), a) != extras.end())
        return fmt::format(
            "unexpected argument '{}' for '{}' ('loadpilot help {}' shows its "
            "arguments)",
            a, sub->get_name(), sub->get_name());
    }
  }
  const std::string message = e.what();
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr &&
      message.find("--target") != std::string::npos)
    return "no target: give -t/--target URL, or set LOADPILOT_TARGET in the environment or in "
           "the working folder's .env (docs/cli.md#environment-and-env)";
  return message;
}

}  // namespace loadpilot::cli
