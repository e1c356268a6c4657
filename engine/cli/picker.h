#pragma once
// Interactive choice of one item on a terminal: arrow keys move, Enter
// picks, a digit picks that item, q or Ctrl-D cancels. Reads /dev/tty.
//
// The terminal's modes are put back on every way out. The keys that would
// raise a signal while the terminal is raw arrive as bytes instead (ISIG is
// off), so no signal can end the process with echo off: Ctrl-C and the quit
// key (Ctrl-backslash) put the modes back first, then send SIGINT to the
// process, which the
// caller's StartupInterrupt (run/startup_interrupt.h) turns into
// "interrupted while ..." and exit 130; Ctrl-Z is ignored. Signals sent
// from outside (kill) are StartupInterrupt's, which also restores the modes.
#include <optional>
#include <string>
#include <vector>

namespace loadpilot::cli {

// The picker's lines for a terminal WIDTH columns wide, none wider: the
// title and the key hint wrapped between words (the terminal would cut
// them mid-word), then one line per item (cut with "…" if too long), the
// CURRENT one marked "> ". Without colour; the picker adds the highlight.
std::vector<std::string> picker_lines(const std::string& title,
                                      const std::vector<std::string>& items, std::size_t current,
                                      int width);

std::optional<std::size_t> pick_on_terminal(const std::string& title,
                                            const std::vector<std::string>& items);

}  // namespace loadpilot::cli
