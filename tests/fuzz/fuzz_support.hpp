// What the libFuzzer targets of tests/fuzz share: FUZZ_CHECK (a property every input must keep)
// and Chunks (a byte stream cut into pieces of pseudo-random sizes, as TCP delivers it).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace fox::fuzz {

// One line on stderr, then abort(): libFuzzer reports it as a crash and saves the input.
[[noreturn]] inline void check_failed(const char* file, int line, const char* condition,
                                      const std::string& detail) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: %s\n", file, line, condition,
               detail.c_str());
  std::abort();
}

// `detail` (a std::string expression) is evaluated only when the check fails.
#define FUZZ_CHECK(condition, detail)                                               \
  do {                                                                              \
    if (!(condition)) ::fox::fuzz::check_failed(__FILE__, __LINE__, #condition, (detail)); \
  } while (0)

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Cuts `bytes` into consecutive pieces whose sizes come from a small PRNG seeded by `seed`:
// mostly 1..4 bytes (every header split), sometimes up to 64 or 1024, sometimes all that is
// left. Deterministic, so a saved input replays the same cuts. Seed 0: one piece.
class Chunks {
public:
  Chunks(std::string_view bytes, std::uint8_t seed)
      : rest_(bytes), state_(0x9E3779B9u * (seed + 1u)), whole_(seed == 0) {}

  bool next(std::string_view* piece) {
    if (rest_.empty()) return false;
    std::size_t n = rest_.size();
    if (!whole_) {
      const std::uint32_t r = random();
      switch (r & 7) {
        case 0: case 1: case 2: n = 1 + (r >> 3) % 4; break;
        case 3: case 4: n = 1 + (r >> 3) % 64; break;
        case 5: n = 1 + (r >> 3) % 1024; break;
        case 6: n = 1; break;
        default: break;   // the rest
      }
      if (n > rest_.size()) n = rest_.size();
    }
    *piece = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }

private:
  std::uint32_t random() {   // xorshift32
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }

  std::string_view rest_;
  std::uint32_t state_;
  bool whole_;
};

}  // namespace fox::fuzz
