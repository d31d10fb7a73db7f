// Backends loaded from a plugin on first use (model/backend_plugin.h): search path, INFERD_PLUGIN_DIR, and
// the Status (never a crash) for a missing library, a missing entry point or a factory of another format.
#include "model/backend_plugin.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

namespace inferd {
namespace {

class ScopedPluginDir {
 public:
  explicit ScopedPluginDir(const char* dir) {
    if (const char* old = getenv("INFERD_PLUGIN_DIR")) old_ = old, had_ = true;
    if (dir) setenv("INFERD_PLUGIN_DIR", dir, 1); else unsetenv("INFERD_PLUGIN_DIR");
  }
  ~ScopedPluginDir() {
    if (had_) setenv("INFERD_PLUGIN_DIR", old_.c_str(), 1); else unsetenv("INFERD_PLUGIN_DIR");
  }

 private:
  std::string old_;
  bool had_ = false;
};

LoadOptions Options() {
  LoadOptions o;
  o.model_name = "m1";
  return o;
}

TEST(BackendPlugin, SearchDirsAreTheExecutablesDirectoryThenLibInferd) {
  ScopedPluginDir env(nullptr);
  auto dirs = PluginSearchDirs();
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(dirs[0] + "/backend_plugin_test", std::string(INFERD_TEST_BIN_PATH));
  EXPECT_NE(dirs[1].find("/lib/inferd"), std::string::npos) << dirs[1];
  ScopedPluginDir set("/somewhere");
  EXPECT_EQ(PluginSearchDirs(), std::vector<std::string>{"/somewhere"});
}

TEST(BackendPlugin, LoadsThePluginOnFirstLoadAndUsesTheExecutablesSymbols) {
  ScopedPluginDir env(INFERD_TEST_PLUGIN_DIR);
  auto f = NewPluginBackendFactory("plugin-test", "libinferd_test_plugin.so", "inferd_test_backend_factory");
  EXPECT_EQ(f->format(), "plugin-test");
  for (int i = 0; i < 2; ++i) {  // the second Load goes to the same factory
    auto b = f->Load(Options());
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(b.status().message(), "test plugin: loaded m1");
  }
}

TEST(BackendPlugin, MissingLibraryIsAStatusNamingItAndTheDirectories) {
  ScopedPluginDir env("/nonexistent-plugin-dir");
  auto f = NewPluginBackendFactory("pytorch", "libinferd_backend_nope.so", "x");
  auto b = f->Load(Options());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(b.status().message().find("libinferd_backend_nope.so"), std::string::npos) << b.status().message();
  EXPECT_NE(b.status().message().find("/nonexistent-plugin-dir"), std::string::npos) << b.status().message();
  EXPECT_NE(b.status().message().find("INFERD_PLUGIN_DIR"), std::string::npos) << b.status().message();
}

TEST(BackendPlugin, UnloadableLibraryIsAStatusWithDlerror) {
  // A file that is not a shared object: dlopen fails, its message is passed on.
  ScopedPluginDir env(INFERD_SOURCE_DIR "/tests/model");
  auto f = NewPluginBackendFactory("pytorch", "test_backend_plugin.cc", "x");
  auto b = f->Load(Options());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(b.status().message().find("cannot load the pytorch backend plugin"), std::string::npos)
      << b.status().message();
  EXPECT_NE(b.status().message().find("test_backend_plugin.cc: "), std::string::npos) << b.status().message();
}

TEST(BackendPlugin, MissingEntryPointOrOtherFormatIsAStatus) {
  ScopedPluginDir env(INFERD_TEST_PLUGIN_DIR);
  auto f = NewPluginBackendFactory("plugin-test", "libinferd_test_plugin.so", "no_such_entry_point");
  auto b = f->Load(Options());
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("has no entry point no_such_entry_point"), std::string::npos)
      << b.status().message();
  f = NewPluginBackendFactory("plugin-test", "libinferd_test_plugin.so", "inferd_test_wrong_format_factory");
  b = f->Load(Options());
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("does not provide the plugin-test format"), std::string::npos)
      << b.status().message();
}

}  // namespace
}  // namespace inferd
