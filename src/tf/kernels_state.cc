// tf/kernels_state.cc: the state group of kernels (tf/kernel.h). Empty until the group is written.
#include "tf/kernel.h"

namespace inferd::tf {

void RegisterStateKernels(KernelRegistry& /*r*/) {}

}  // namespace inferd::tf
