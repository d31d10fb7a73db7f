// tf/kernels_nn.cc: the nn group of kernels (tf/kernel.h). Empty until the group is written.
#include "tf/kernel.h"

namespace inferd::tf {

void RegisterNnKernels(KernelRegistry& /*r*/) {}

}  // namespace inferd::tf
