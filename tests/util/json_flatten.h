// tests/util/json_flatten.h: reads the nested number arrays of the expected-answer files that the
// test-model scripts write (row-major, any depth) into one flat vector.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <vector>

namespace inferd {

// Appends every number of `e` (a number or a nested array of numbers) to `out`; a non-number fails
// the calling test.
inline void FlattenJson(simdjson::dom::element e, std::vector<double>* out) {
  simdjson::dom::array arr;
  if (e.get_array().get(arr) == simdjson::SUCCESS) {
    for (simdjson::dom::element child : arr) FlattenJson(child, out);
    return;
  }
  double v = 0;
  ASSERT_EQ(e.get_double().get(v), simdjson::SUCCESS);
  out->push_back(v);
}

}  // namespace inferd
