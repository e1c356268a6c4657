// The scenario picker's text: at 80 columns its prompt wraps between
// words (left to the terminal, it broke mid-word and threw the redraw off).
#include "cli/picker.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "report/text_fit.h"

namespace loadpilot::cli {
namespace {

TEST(Picker, ThePromptWrapsBetweenWordsAtEightyColumns) {
  const std::string title =
      "scenarios/checkout_and_browse_in_a_long_folder/shop.py has 3 scenarios; run which?";
  const std::vector<std::string> items = {"Browse", "Checkout", "A" + std::string(120, 'x')};
  const std::vector<std::string> lines = picker_lines(title, items, 1, 80);
  ASSERT_GE(lines.size(), items.size() + 2);  // the prompt takes two lines here
  std::string joined;
  for (const std::string& line : lines) {
    EXPECT_LT(report::display_width(line), 80) << line;
    joined += line + "\n";
  }
  // Every word of the prompt and of the hint is whole on one line.
  std::istringstream words(title + " (↑/↓ and Enter, or a number; q to cancel)");
  for (std::string word; words >> word;)
    EXPECT_NE(joined.find(word), std::string::npos) << word << "\n" << joined;
  const std::size_t head = lines.size() - items.size();
  EXPECT_EQ(lines[head], "  1. Browse");
  EXPECT_EQ(lines[head + 1], "> 2. Checkout");
  EXPECT_EQ(report::display_width(lines[head + 2]), 79);  // cut with "…"
}

}  // namespace
}  // namespace loadpilot::cli
