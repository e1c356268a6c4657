#pragma once
// The command-line front door: parses arguments with CLI11 and dispatches
// to the commands. Exit codes (documented in docs/cli.md):
//   0 success / all thresholds passed, 1 a threshold breached,
//   2 invalid input (arguments, scenario, plan), 130 SIGINT, 143 SIGTERM.
namespace loadpilot::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitThresholds = 1;
inline constexpr int kExitInvalid = 2;
inline constexpr int kExitSigint = 130;
inline constexpr int kExitSigterm = 143;

int main(int argc, char** argv);

}  // namespace loadpilot::cli
