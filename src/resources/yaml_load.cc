// resources/yaml_load.cc: see yaml_load.h.
#include "resources/yaml_load.h"

#include <yaml-cpp/eventhandler.h>

#include <sstream>

namespace inferd::resources {
namespace {

// Parses events only, remembering where the current document started.
class DocumentStarts final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  YAML::Mark start;
};

}  // namespace

std::vector<YAML::Node> LoadAllYaml(const std::string& text) {
  // Every document consumes at least one token, so two documents starting at the same place mean the parser
  // no longer advances.
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts events;
  int last = -1;
  while (parser.HandleNextDocument(events)) {
    if (events.start.pos == last) {
      throw YAML::ParserException(events.start, "unexpected token: no YAML node starts here");
    }
    last = events.start.pos;
  }
  return YAML::LoadAll(text);
}

}  // namespace inferd::resources
