#pragma once
// The exit codes of every command (docs/cli.md#exit-codes):
//   0 success / all thresholds passed, 1 a threshold breached,
//   2 invalid input (arguments, scenario, plan), 3 internal error (a fault
//   of LoadPilot itself, never the user's input), 130 SIGINT, 143 SIGTERM.

namespace loadpilot::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitThresholds = 1;
inline constexpr int kExitInvalid = 2;
inline constexpr int kExitInternal = 3;
inline constexpr int kExitSigint = 130;
inline constexpr int kExitSigterm = 143;

}  // namespace loadpilot::cli
