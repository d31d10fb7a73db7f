#include "core/uuid.h"

#include <cstdint>
#include <random>

namespace inferd {

std::string NewUuid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  auto put = [&](uint64_t v, int nibbles_from, int nibbles_to) {
    for (int i = nibbles_from; i < nibbles_to; ++i) out.push_back(kHex[(v >> (60 - 4 * i)) & 0xf]);
  };
  put(hi, 0, 8); out.push_back('-');
  put(hi, 8, 12); out.push_back('-');
  put(hi, 12, 16); out.push_back('-');
  put(lo, 0, 4); out.push_back('-');
  put(lo, 4, 16);
  return out;
}

}  // namespace inferd
