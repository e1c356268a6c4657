#pragma once
// The command-line front door: parses arguments with CLI11 and dispatches
// to the commands. Exit codes (documented in docs/cli.md):
//   0 success / all thresholds passed, 1 a threshold breached,
//   2 invalid input (arguments, scenario, plan), 3 internal error (a fault
//   of LoadPilot itself, never the user's input), 130 SIGINT, 143 SIGTERM.
// Every message for a refused command line is one line "error: ...".
#include "run/exit_codes.h"
namespace loadpilot::cli {

// Any exception that reaches main() and is not one of the input errors
// (scenario::ScenarioError, plan::PlanError, monitor::ExporterError)
// prints "internal error: ..." and exits kExitInternal; so does one that
// escapes a thread (std::terminate).
int main(int argc, char** argv);

}  // namespace loadpilot::cli
