#pragma once
// Fitting terminal text to a width, for the live dashboard and the summary
// (docs/output.md): a line must never be wider than the terminal, because
// a wrapped line breaks the dashboard's redraw and garbles tables.
//
// Widths are display columns of UTF-8 text: ANSI CSI sequences (colours)
// take none, East Asian wide characters take two, combining marks none,
// everything else one. Invalid UTF-8 counts a column per byte.
// Stateless functions; thread-safe.
#include <string>
#include <string_view>
#include <vector>

namespace loadpilot::report {

// Display columns of TEXT.
int display_width(std::string_view text);

// TEXT cut to at most WIDTH columns; a cut ends in "…" (which takes the last
// column). Escape sequences are kept, and a cut line that contained any ends
// with a reset, so no colour runs on.
std::string fit_width(std::string_view text, int width);

// TEXT with control characters (escape included) replaced by '?': names and
// messages that come from a scenario or a target must not move the cursor.
std::string printable(std::string_view text);

// TEXT padded with spaces on the right (left=true) or left to WIDTH columns;
// never cut.
std::string pad(std::string_view text, int width, bool left = true);

// Words of TEXT laid on lines of at most WIDTH columns: the first starts
// with FIRST, the others with INDENT. A single word longer than a line is
// cut with fit_width.
std::vector<std::string> wrap_words(std::string_view text, int width, std::string_view first,
                                    std::string_view indent);

// N bytes in decimal units (1 kB = 1000 B), three significant figures:
// "512 B", "12.3 kB", "4.56 MB".
std::string format_bytes(double n);

}  // namespace loadpilot::report
