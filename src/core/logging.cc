#include "core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <string>

namespace inferd {

void InitLogging(std::string_view level) {
  auto logger = spdlog::stderr_color_mt("inferd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%t] %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace inferd
