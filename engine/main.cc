// loadpilot: entry point. All commands live in cli/.
#include "cli/commands.h"

int main(int argc, char** argv) { return loadpilot::cli::main(argc, argv); }
