// fuzz/serve_config_fuzz.cc: the `inferd serve --config FILE` file (control/serve_config.h): YAML, the
// autoscaler section or Knative's ConfigMap shape. Invariants: no exception escapes; every error names the
// file.
#include "control/serve_config.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto c = inferd::control::ParseServeConfig(inferd::fuzz::AsText(data, size), "serve.yaml");
  if (!c.ok()) FUZZ_CHECK(c.status().message().starts_with("serve.yaml"), c.status().message());
  return 0;
}
