// tf/kernels_array.cc: the array group of kernels (tf/kernel.h). Empty until the group is written.
#include "tf/kernel.h"

namespace inferd::tf {

void RegisterArrayKernels(KernelRegistry& /*r*/) {}

}  // namespace inferd::tf
