// fuzz_replay: runs fuzz harnesses on saved inputs without libFuzzer, so
// the normal build (g++, no clang needed) checks every seed and every
// regression input in engine/fuzz/corpus/ against the harnesses'
// invariants on each `make test`.
//
//   fuzz_replay TARGET PATH...   PATH: an input file or a folder of them
//
// Each harness is compiled here with LLVMFuzzerTestOneInput renamed to
// loadpilot_fuzz_<target> (engine/fuzz/CMakeLists.txt), so one binary holds
// all of them. A violated invariant aborts; exit 0 means every input
// passed, exit 2 a usage error or no input found.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#define LOADPILOT_FUZZ_DECLARE(name) \
  extern "C" int loadpilot_fuzz_##name(const std::uint8_t* data, std::size_t size);
#include "fuzz_targets.inc"
#undef LOADPILOT_FUZZ_DECLARE

namespace {

using Entry = int (*)(const std::uint8_t*, std::size_t);

struct Target {
  std::string_view name;
  Entry entry;
};

constexpr Target kTargets[] = {
#define LOADPILOT_FUZZ_DECLARE(name) {#name, loadpilot_fuzz_##name},
#include "fuzz_targets.inc"
#undef LOADPILOT_FUZZ_DECLARE
};

std::vector<std::filesystem::path> inputs_under(const std::filesystem::path& path) {
  std::vector<std::filesystem::path> out;
  if (std::filesystem::is_directory(path)) {
    for (const auto& e : std::filesystem::directory_iterator(path))
      if (e.is_regular_file()) out.push_back(e.path());
    std::sort(out.begin(), out.end());
  } else if (std::filesystem::is_regular_file(path)) {
    out.push_back(path);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Target* target = nullptr;
  for (const Target& t : kTargets)
    if (argc > 1 && t.name == argv[1]) target = &t;
  if (target == nullptr || argc < 3) {
    std::fprintf(stderr, "usage: fuzz_replay TARGET PATH...\ntargets:");
    for (const Target& t : kTargets)
      std::fprintf(stderr, " %.*s", int(t.name.size()), t.name.data());
    std::fprintf(stderr, "\n");
    return 2;
  }
  std::size_t count = 0;
  for (int i = 2; i < argc; ++i) {
    for (const auto& path : inputs_under(argv[i])) {
      std::ifstream f(path, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
      if (!f.good() && !f.eof()) {
        std::fprintf(stderr, "fuzz_replay: cannot read %s\n", path.c_str());
        return 2;
      }
      std::fprintf(stderr, "%s\n", path.c_str());  // names the input if the harness aborts
      target->entry(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++count;
    }
  }
  if (count == 0) {
    std::fprintf(stderr, "fuzz_replay: no inputs under the given paths\n");
    return 2;
  }
  std::printf("fuzz_replay %s: %zu inputs passed\n", argv[1], count);
  return 0;
}
