// core/backoff.h: the one exponential backoff of inferd's retries: a crashed replica's restart (supervisor),
// a failed model load's retry (control plane) and a failed download's retry (control/model_storage.h).
//
// Contract: ExponentialBackoff(n, initial, max) is initial * 2^n, at most max (n <= 0: initial, or max when
// that is smaller). Pure; it stops doubling at max, so no n overflows. Any std::chrono::duration.
#pragma once

#include <algorithm>

namespace inferd {

template <class Duration>
Duration ExponentialBackoff(int exponent, Duration initial, Duration max) {
  Duration d = initial;
  for (int i = 0; i < exponent && d < max; ++i) d *= 2;
  return std::min(d, max);
}

}  // namespace inferd
