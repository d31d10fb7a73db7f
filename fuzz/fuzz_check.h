// fuzz/fuzz_check.h: what the fuzz targets share.
//
// FUZZ_CHECK(cond, what) states an invariant of a parser's result (not only "no crash"): when it does not
// hold, the target prints it and aborts, which libFuzzer reports like a crash and saves the input.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond, what)                                                                         \
  do {                                                                                                 \
    if (!(cond)) {                                                                                     \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s: %s\n", __FILE__, __LINE__, #cond,         \
                   std::string(what).c_str());                                                         \
      std::abort();                                                                                    \
    }                                                                                                  \
  } while (0)

namespace inferd::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace inferd::fuzz
