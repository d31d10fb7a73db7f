// control/serve_config.cc: the `inferd serve --config FILE` file (YAML) -> ServeConfig. yaml-cpp builds the
// node tree; its exceptions are caught here and become InvalidArgument naming the file and line.
#include "control/serve_config.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "resources/yaml_load.h"

namespace inferd::control {
namespace {

constexpr long kMaxFileBytes = 1 << 20;  // a settings file; anything larger is a mistake

constexpr std::string_view kSectionKey = "autoscaler";
constexpr std::string_view kImagesKey = "images";
constexpr std::string_view kRouterKey = "router";

std::string Where(const std::string& name, const YAML::Mark& mark) {
  return name + ":" + std::to_string(mark.line >= 0 ? mark.line + 1 : 1);
}

Status Error(const std::string& name, const YAML::Mark& mark, const std::string& what) {
  return InvalidArgument(Where(name, mark) + ": " + what);
}

std::string_view KindOf(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

bool IsEmpty(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }

struct Entry {
  std::string key;
  YAML::Mark mark;  // the key's
  YAML::Node value;
};

// The entries of a map node in document order; keys must be scalars and unique.
Status Entries(const YAML::Node& map, const std::string& name, std::string_view where, std::vector<Entry>* out) {
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node k = it->first;  // copies: `it->` hands out a temporary
    if (!k.IsScalar()) {
      return Error(name, k.Mark(), std::string(where) + "keys must be strings, got " + std::string(KindOf(k)));
    }
    const std::string key = k.Scalar();
    if (!seen.insert(key).second) return Error(name, k.Mark(), std::string(where) + "duplicate key '" + key + "'");
    const YAML::Node v = it->second;
    out->push_back(Entry{key, k.Mark(), v});
  }
  return Status::Ok();
}

// The autoscaler section (`autoscaler:`, or `data:` of the ConfigMap shape) -> ParseAutoscalerConfig.
Status ReadAutoscaler(const YAML::Node& section, std::string_view section_name, const std::string& name,
                      ServeConfig* out) {
  std::map<std::string, std::string> data;
  if (!IsEmpty(section)) {
    const std::string where = std::string(section_name) + ": ";
    if (!section.IsMap()) {
      return Error(name, section.Mark(),
                   where + "must be a map of config-autoscaler keys to values, got " + std::string(KindOf(section)));
    }
    std::vector<Entry> entries;
    RETURN_IF_ERROR(Entries(section, name, where, &entries));
    for (const auto& [key, mark, value] : entries) {
      if (!value.IsScalar()) {
        return Error(name, mark,
                     where + key + ": must be a scalar (a string, number or boolean), got " +
                         std::string(KindOf(value)));
      }
      data[key] = value.Scalar();
    }
  }
  auto config = autoscaler::ParseAutoscalerConfig(data);
  if (!config.ok()) return config.status().WithPrefix(name + ": " + std::string(section_name));
  out->autoscaler = std::move(*config);
  return Status::Ok();
}

// A list of strings (`images: X: command:`), naming `where` in errors.
Status ReadStrings(const YAML::Node& node, const YAML::Mark& mark, const std::string& name, const std::string& where,
                   std::vector<std::string>* out) {
  if (IsEmpty(node)) return Status::Ok();
  if (!node.IsSequence()) return Error(name, mark, where + ": must be a list of strings, got " + std::string(KindOf(node)));
  for (const auto& item : node) {
    if (!item.IsScalar()) {
      return Error(name, item.Mark(), where + ": must be a list of strings, got " + std::string(KindOf(item)));
    }
    out->push_back(item.Scalar());
  }
  return Status::Ok();
}

// One entry of `images:`.
Status ReadImage(const Entry& image, const std::string& name, LocalImage* out) {
  const std::string where = "images: " + image.key;
  if (!image.value.IsMap()) {
    return Error(name, image.mark, where + ": must be a map (command, args, workingDir, env), got " +
                                       std::string(KindOf(image.value)));
  }
  std::vector<Entry> fields;
  RETURN_IF_ERROR(Entries(image.value, name, where + ": ", &fields));
  for (const auto& [key, mark, value] : fields) {
    if (key == "command") {
      RETURN_IF_ERROR(ReadStrings(value, mark, name, where + ": command", &out->command));
    } else if (key == "args") {
      RETURN_IF_ERROR(ReadStrings(value, mark, name, where + ": args", &out->args));
    } else if (key == "workingDir") {
      if (!IsEmpty(value) && !value.IsScalar()) {
        return Error(name, mark, where + ": workingDir: must be a string, got " + std::string(KindOf(value)));
      }
      if (!IsEmpty(value)) out->working_dir = value.Scalar();
    } else if (key == "env") {
      if (IsEmpty(value)) continue;
      if (!value.IsMap()) return Error(name, mark, where + ": env: must be a map of names to values, got " +
                                                       std::string(KindOf(value)));
      std::vector<Entry> vars;
      RETURN_IF_ERROR(Entries(value, name, where + ": env: ", &vars));
      for (const auto& var : vars) {
        if (!var.value.IsScalar()) {
          return Error(name, var.mark, where + ": env: " + var.key + ": must be a scalar, got " +
                                           std::string(KindOf(var.value)));
        }
        out->env.emplace_back(var.key, var.value.Scalar());
      }
    } else {
      return Error(name, mark, where + ": unknown key '" + key + "' (known: command, args, workingDir, env)");
    }
  }
  if (out->command.empty()) return Error(name, image.mark, where + ": command: required (the image's entrypoint here)");
  return Status::Ok();
}

Status ReadImages(const YAML::Node& section, const std::string& name, ServeConfig* out) {
  if (IsEmpty(section)) return Status::Ok();
  if (!section.IsMap()) {
    return Error(name, section.Mark(), "images: must be a map of image references to their local command, got " +
                                           std::string(KindOf(section)));
  }
  std::vector<Entry> images;
  RETURN_IF_ERROR(Entries(section, name, "images: ", &images));
  for (const auto& image : images) RETURN_IF_ERROR(ReadImage(image, name, &out->images[image.key]));
  return Status::Ok();
}

// `router:` (KServe's inferenceservice-config key `router`): only `headers: {propagate: [...]}` means something
// here, the graph router being the gateway (no image, no pod resources).
Status ReadRouter(const YAML::Node& section, const std::string& name, ServeConfig* out) {
  if (IsEmpty(section)) return Status::Ok();
  if (!section.IsMap()) {
    return Error(name, section.Mark(), "router: must be a map (e.g. headers: {propagate: [...]}), got " +
                                           std::string(KindOf(section)));
  }
  std::vector<Entry> entries;
  RETURN_IF_ERROR(Entries(section, name, "router: ", &entries));
  for (const auto& [key, mark, value] : entries) {
    if (key != "headers") {
      return Error(name, mark, "router: unknown key '" + key +
                                   "' (known: headers; inferd runs InferenceGraphs in its gateway, with no router image or pod)");
    }
    if (IsEmpty(value)) continue;
    if (!value.IsMap()) return Error(name, mark, "router: headers: must be a map, got " + std::string(KindOf(value)));
    std::vector<Entry> hs;
    RETURN_IF_ERROR(Entries(value, name, "router: headers: ", &hs));
    for (const auto& [hkey, hmark, hvalue] : hs) {
      if (hkey != "propagate") return Error(name, hmark, "router: headers: unknown key '" + hkey + "' (known: propagate)");
      RETURN_IF_ERROR(ReadStrings(hvalue, hmark, name, "router: headers: propagate", &out->router_propagate_headers));
    }
  }
  return Status::Ok();
}

// Knative's ConfigMap shape: `kind: ConfigMap` with the config-autoscaler keys under `data:`.
Status ReadConfigMap(const std::vector<Entry>& top, const std::string& name, ServeConfig* out) {
  YAML::Node data;
  for (const auto& [key, mark, value] : top) {
    if (key == "kind" || key == "apiVersion" || key == "immutable") continue;
    if (key == "data") {
      data = value;
    } else if (key == "metadata") {
      if (IsEmpty(value)) continue;
      if (!value.IsMap()) return Error(name, mark, "metadata: must be a map, got " + std::string(KindOf(value)));
      const YAML::Node n = value["name"];
      if (n.IsDefined() && !n.IsNull() && (!n.IsScalar() || n.Scalar() != "config-autoscaler")) {
        return Error(name, n.Mark(),
                     "metadata.name: only the config-autoscaler ConfigMap configures inferd serve, got '" +
                         (n.IsScalar() ? n.Scalar() : std::string(KindOf(n))) + "'");
      }
    } else {
      return Error(name, mark,
                   "unknown key '" + key + "' in a ConfigMap (known: apiVersion, kind, metadata, data, immutable)");
    }
  }
  return ReadAutoscaler(data, "data", name, out);
}

StatusOr<ServeConfig> Parse(std::string_view yaml_text, const std::string& name) {
  ServeConfig out;
  const std::vector<YAML::Node> docs = resources::LoadAllYaml(std::string(yaml_text));
  if (docs.size() > 1) {
    return Error(name, docs[1].Mark(), "expected one YAML document, found " + std::to_string(docs.size()));
  }
  if (docs.empty() || IsEmpty(docs[0])) return out;  // empty file or only comments: the defaults
  const YAML::Node& root = docs[0];
  if (!root.IsMap()) {
    return Error(name, root.Mark(), "the top level must be a map (e.g. `autoscaler:`), got " +
                                        std::string(KindOf(root)));
  }
  std::vector<Entry> top;
  RETURN_IF_ERROR(Entries(root, name, "", &top));
  for (const auto& [key, mark, value] : top) {
    if (key != "kind") continue;
    if (value.IsScalar() && value.Scalar() == "ConfigMap") {
      RETURN_IF_ERROR(ReadConfigMap(top, name, &out));
      return out;
    }
    return Error(name, mark,
                 "kind: only ConfigMap (Knative's config-autoscaler) is accepted; a serve config has no kind");
  }
  YAML::Node section;
  for (const auto& [key, mark, value] : top) {
    if (key == kSectionKey) {
      section = value;
    } else if (key == kImagesKey) {
      RETURN_IF_ERROR(ReadImages(value, name, &out));
    } else if (key == kRouterKey) {
      RETURN_IF_ERROR(ReadRouter(value, name, &out));
    } else {
      return Error(name, mark,
                   "unknown key '" + key + "' (known: " + std::string(kSectionKey) + ", " + std::string(kImagesKey) +
                       ", " + std::string(kRouterKey) + ")");
    }
  }
  RETURN_IF_ERROR(ReadAutoscaler(section, kSectionKey, name, &out));
  return out;
}

}  // namespace

StatusOr<ServeConfig> ParseServeConfig(std::string_view yaml_text, const std::string& name_for_errors) {
  try {
    return Parse(yaml_text, name_for_errors);
  } catch (const YAML::DeepRecursion& e) {  // yaml-cpp's parser stops at its depth guard (500 levels)
    return Error(name_for_errors, e.mark, "nested too deep (" + std::to_string(e.depth()) + " levels or more)");
  } catch (const YAML::Exception& e) {
    return Error(name_for_errors, e.mark, e.msg);
  } catch (const std::exception& e) {
    return InvalidArgument(name_for_errors + ": " + e.what());
  } catch (...) {
    return InvalidArgument(name_for_errors + ": unreadable YAML");
  }
}

StatusOr<ServeConfig> LoadServeConfig(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    const int err = errno;
    std::string m = path + ": cannot open: " + std::strerror(err);
    return err == ENOENT ? NotFound(std::move(m)) : InvalidArgument(std::move(m));
  }
  std::string text;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, n);
    if (text.size() > static_cast<size_t>(kMaxFileBytes)) {
      std::fclose(f);
      return InvalidArgument(path + ": larger than 1 MiB: not a serve config");
    }
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) return InvalidArgument(path + ": cannot read: " + std::strerror(err));
  ASSIGN_OR_RETURN(ServeConfig config, ParseServeConfig(text, path));
  // Paths in `images:` are relative to the file's directory.
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::absolute(std::filesystem::path(path), ec).parent_path();
  auto resolve = [&dir](std::string& p) {
    if (!p.empty() && (p.starts_with("./") || p.starts_with("../"))) p = (dir / p).lexically_normal().string();
  };
  for (auto& [image, local] : config.images) {
    if (!local.working_dir.empty() && local.working_dir.front() != '/') {
      local.working_dir = (dir / local.working_dir).lexically_normal().string();
    }
    for (auto& c : local.command) resolve(c);
    for (auto& a : local.args) resolve(a);
  }
  return config;
}

}  // namespace inferd::control
