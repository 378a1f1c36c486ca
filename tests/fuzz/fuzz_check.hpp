// Shared helpers for the libFuzzer targets: an invariant check that reports
// and aborts (so libFuzzer saves the input), and a strict UTF-8 validator.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__,    \
                   __LINE__);                                                     \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

namespace fcr::fuzz {

// Well-formed UTF-8 (RFC 3629): no overlongs, no surrogates, <= U+10FFFF.
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    int need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i - 1 < static_cast<std::size_t>(need)) return false;
    for (int k = 1; k <= need; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < lo || c > hi) return false;
      lo = 0x80;
      hi = 0xBF;
    }
    i += static_cast<std::size_t>(need) + 1;
  }
  return true;
}

}  // namespace fcr::fuzz
