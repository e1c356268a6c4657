#pragma once
// Strict checks for command-line values and the wording of command-line
// mistakes, shared by every subcommand (docs/cli.md).
//
// CLI11 reads integers with strtoull(..., 0): "-1" becomes 2^64-1 for an
// unsigned option, "010" is octal. Every numeric option therefore goes
// through one of the transforms below first: it accepts only plain decimal
// text in the option's range, rewrites it to canonical decimal for CLI11 to
// convert, and otherwise fails with "must be ... (got TEXT)", which CLI11
// prefixes with the option's name.
//
// Thread-safety: plain functions; the validators hold no state.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plan/suggest.h"

namespace loadpilot::cli {

// A whole decimal number from min to max ("must be a whole number from 1
// to 64 (got -1)").
CLI::Validator whole_number(long long min, long long max);
// A whole decimal number from 0 to 2^64-1 (seeds).
CLI::Validator unsigned_number();

// "auto", or a whole number as whole_number(min, max) takes it.
CLI::Validator auto_or_whole_number(long long min, long long max);
// A finite decimal number from min to max; `unit` (e.g. "ms") is shown in
// the message after the bounds.
CLI::Validator real_number(double min, double max, std::string_view unit = "");
// An address to listen on (monitor::resolve_listen_host()), IPv6 allowed
// or not: the value is replaced by the numeric address it names.
CLI::Validator listen_host(bool ipv6);

// The candidate closest to `word` by edit distance when it is close enough
// to be a typo (at most a third of the word's length, and at least 1
// apart from an unrelated word), else "". Ties go to the earlier candidate.
using plan::nearest;

// One --threshold: KEY=VALUE with a key of plan::kThresholdKeys, or k6's
// expression where it maps onto ours (metrics::from_k6). Returns the key
// and the limit, or nullopt with *error the whole message, which names the
// option and the text as typed ("--threshold p99=50: unknown key p99; did
// you mean p99_ms? ...").

// Where the command of a command line (ARGV, the program's name left out)
// is: its first word that is not an option, or argv.end() when none is.
std::vector<std::string>::const_iterator command_word(const std::vector<std::string>& argv);

// The one-line message for a command line CLI11 refused, in the words of
// the mistake: an unknown command or option (with "did you mean ...?"), a
// missing command, or CLI11's own message. argv is the whole command line.
// Never includes the "error: " prefix.
std::string explain_parse_error(CLI::App& app, const CLI::ParseError& e,
                                const std::vector<std::string>& argv);

}  // namespace loadpilot::cli
