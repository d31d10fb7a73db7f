// control/kserve_stub.cc: installing the kserve stub package (see the header).
#include "control/kserve_stub.h"

#include <filesystem>
#include <fstream>

namespace inferd::control {

StatusOr<std::string> InstallKserveStub(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string abs = fs::absolute(dir, ec).lexically_normal().string();
  if (ec) return Internal("kserve stub: " + dir + ": " + ec.message());
  fs::create_directories(abs + "/kserve", ec);
  if (ec) return Internal("kserve stub: cannot create " + abs + "/kserve: " + ec.message());
  const std::string file = abs + "/kserve/__init__.py", tmp = file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << kKserveStubSource;
    if (!out.good()) return Internal("kserve stub: cannot write " + tmp);
  }
  fs::rename(tmp, file, ec);
  if (ec) return Internal("kserve stub: cannot rename " + tmp + ": " + ec.message());
  return abs;
}

}  // namespace inferd::control
