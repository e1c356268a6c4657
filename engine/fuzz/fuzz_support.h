#pragma once
// Shared pieces of the fuzz harnesses in engine/fuzz/ (see docs/testing.md).
//
// FUZZ_CHECK(cond, detail): an invariant of the code under test. When it
// does not hold, the harness prints the condition, its place and `detail`
// to stderr and aborts, which libFuzzer reports as a crash (and saves the
// input), and which fails the corpus replay test in the normal build.
//
// FuzzInput: takes the few choices a harness makes (flag bits, how to split
// the payload into reads) off the front of the input, so the rest stays one
// contiguous payload the fuzzer can mutate as text.
//
// ReadSizes: a deterministic sequence of read sizes (1 byte and up) from a
// seed byte, to feed incremental parsers the same bytes in different pieces.
//
// Thread-safety: none; each harness runs single-threaded.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace loadpilot::fuzz {

[[noreturn]] inline void check_failed(const char* cond, const char* file, int line,
                                      const std::string& detail) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n  at %s:%d\n", cond, file, line);
  if (!detail.empty()) std::fprintf(stderr, "  %s\n", detail.c_str());
  std::abort();
}

#define FUZZ_CHECK(cond, detail)                                                     \
  do {                                                                               \
    if (!(cond)) ::loadpilot::fuzz::check_failed(#cond, __FILE__, __LINE__, detail); \
  } while (0)

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  // The next byte of the input, or 0 once the input is used up.
  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // Everything not taken yet.
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

class ReadSizes {
 public:
  // Seed 0 feeds one byte at a time; any other seed gives sizes 1..64.
  explicit ReadSizes(std::uint8_t seed) : state_(seed) {}

  std::size_t next() {
    if (state_ == 0) return 1;
    // xorshift32: cheap, deterministic, never reaches 0 from a non-zero seed.
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return 1 + state_ % 64;
  }

 private:
  std::uint32_t state_;
};

}  // namespace loadpilot::fuzz
