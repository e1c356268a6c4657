#pragma once
// The `.env` file of the working folder (docs/cli.md#environment-and-env):
// KEY=VALUE lines whose variables fill the environment where it has no
// value yet, so the precedence is: option > environment > .env.
//
// Format, one entry per line:
//   # a comment              (blank lines too)
//   KEY=value                (spaces around KEY, = and an unquoted value are trimmed;
//                             " #" starts a comment after an unquoted value)
//   export KEY=value         ("export " is allowed and ignored)
//   KEY="value"              (double quotes: \n \t \" \\ are escapes; # is kept)
//   KEY='value'              (single quotes: taken as written)
// KEY is [A-Za-z_][A-Za-z0-9_]*. Anything else is an error naming the
// file, the line and what was found; nothing from such a file is applied.
//
// Thread-safety: load_dotenv() calls setenv(); call it before any thread
// starts (cli::main() does, before the command line is parsed).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loadpilot::cli {

struct DotenvEntry {
  std::string key;
  std::string value;
  int line = 0;
};

// Parses the text of a .env file. On a bad line returns false and sets
// *error to "LINE: what is wrong (got "TEXT")"; *entries is then unchanged.
bool parse_dotenv(std::string_view text, std::vector<DotenvEntry>* entries, std::string* error);

// Reads `path` when it exists and sets each of its variables that the
// environment does not have yet. Returns true when the file is absent or
// applied; false with *error = "PATH:LINE: ..." when it cannot be read or
// parsed (nothing is set then). *applied receives the keys that were set.
bool load_dotenv(const std::string& path, std::vector<std::string>* applied, std::string* error);

}  // namespace loadpilot::cli
