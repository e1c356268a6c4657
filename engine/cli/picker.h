#pragma once
// Interactive choice of one item on a terminal: arrow keys move, Enter
// picks, a digit picks that item, q or Ctrl-C cancels. Reads /dev/tty.
#include <optional>
#include <string>
#include <vector>

namespace loadpilot::cli {

std::optional<std::size_t> pick_on_terminal(const std::string& title,
                                            const std::vector<std::string>& items);

}  // namespace loadpilot::cli
