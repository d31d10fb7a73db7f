// A backend plugin for backend_plugin_test: format "plugin-test", whose Load fails with a message built by
// inferd code that the plugin does not contain (Status::WithPrefix, resolved against the test executable).
#include <memory>

#include "model/backend.h"

namespace {

class TestFactory : public inferd::BackendFactory {
 public:
  explicit TestFactory(std::string_view format) : format_(format) {}
  std::string_view format() const override { return format_; }
  inferd::StatusOr<std::unique_ptr<inferd::Backend>> Load(const inferd::LoadOptions& options) override {
    return inferd::NotFound("loaded " + options.model_name).WithPrefix("test plugin");
  }

 private:
  std::string_view format_;
};

}  // namespace

extern "C" __attribute__((visibility("default"))) inferd::BackendFactory* inferd_test_backend_factory() {
  return new TestFactory("plugin-test");
}

extern "C" __attribute__((visibility("default"))) inferd::BackendFactory* inferd_test_wrong_format_factory() {
  return new TestFactory("not-plugin-test");
}
