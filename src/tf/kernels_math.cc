// tf/kernels_math.cc: the math group of kernels (tf/kernel.h). Empty until the group is written.
#include "tf/kernel.h"

namespace inferd::tf {

void RegisterMathKernels(KernelRegistry& /*r*/) {}

}  // namespace inferd::tf
