#pragma once
// What the program does about its own faults and where its documentation
// is (docs/cli.md#exit-codes): a fault of LoadPilot itself — an exception
// nothing caught, a thread that escaped — is exit code 3 with a message
// that says so, never a core dump that looks like a crash of the target.
#include <string>

namespace loadpilot::cli {

// Prints "internal error: WHAT" and what it means; returns kExitInternal.
int internal_error(const std::string& what);

// For std::set_terminate: the exception that escaped a thread (or a
// joinable std::thread destroyed) as an internal error, then _Exit(3).
[[noreturn]] void on_terminate();

// The docs/ folder the help and the messages cite: beside an installed
// binary (relative to its own folder, so a moved prefix still finds it),
// else the source tree's.
std::string docs_dir();

}  // namespace loadpilot::cli
