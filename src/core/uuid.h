// core/uuid.h: random version-4 UUIDs for request ids (V2 `id` when the client sends none).
// Thread-safe: each thread has its own generator.
#pragma once

#include <string>

namespace inferd {

std::string NewUuid();

}  // namespace inferd
