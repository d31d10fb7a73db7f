#include "control/replica_command.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "core/json_depth.h"

namespace inferd::control {

namespace {

using resources::Json;

// Images of the model servers KServe's runtimes name whose work `inferd model-server` does, and which it runs
// instead: KServe's own servers and Triton take their arguments unchanged (inferd model-server accepts their
// flags, docs/configuration.md); TorchServe's too (its .mar store then fails the model's load, naming the
// archive, instead of a runtime that cannot run); MLServer is configured by environment, so it gets the
// model's name and directory as flags.
struct CompatibleImage {
  std::string_view repository;  // the image without registry host and tag
  bool add_model_flags;         // append --model_name={{.Name}} --model_dir=/mnt/models
};
constexpr std::array<CompatibleImage, 7> kCompatibleImages = {{{"kserve/sklearnserver", false},
                                                              {"kserve/xgbserver", false},
                                                              {"kserve/lgbserver", false},
                                                              {"kserve/predictiveserver", false},
                                                              {"nvidia/tritonserver", false},
                                                              {"pytorch/torchserve-kfs", false},
                                                              {"seldonio/mlserver", true}}};

const CompatibleImage* FindCompatibleImage(std::string_view image) {
  // "docker.io/kserve/sklearnserver:v0.14" -> "kserve/sklearnserver"
  if (auto at = image.find('@'); at != std::string_view::npos) image = image.substr(0, at);
  if (auto slash = image.rfind('/'); slash != std::string_view::npos) {
    if (auto colon = image.find(':', slash); colon != std::string_view::npos) image = image.substr(0, colon);
  }
  for (const auto& c : kCompatibleImages) {
    const std::string_view r = c.repository;
    if (image == r || (image.size() > r.size() && image.ends_with(r) && image[image.size() - r.size() - 1] == '/')) {
      return &c;
    }
  }
  return nullptr;
}

// inferd's own image (docker/Dockerfile: ENTRYPOINT ["inferd"]), named with or without registry, tag or digest
// ("inferd", "inferd:0.1.0", "registry.example.com/team/inferd@sha256:..."): a container of it without `command`
// runs its entrypoint, this binary, with the container's args (config/runtimes: `model-server ...`).
bool IsInferdImage(std::string_view image) {
  if (auto at = image.find('@'); at != std::string_view::npos) image = image.substr(0, at);
  if (auto slash = image.rfind('/'); slash != std::string_view::npos) image = image.substr(slash + 1);
  if (auto colon = image.find(':'); colon != std::string_view::npos) image = image.substr(0, colon);
  return image == "inferd";
}

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

// Sets `--flag=value` (or `--flag value`) in args, appending it when absent.
void SetFlag(std::vector<std::string>& args, std::string_view flag, const std::string& value) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > flag.size() && a.starts_with(flag) && a[flag.size()] == '=') {
      args[i] = std::string(flag) + "=" + value;
      return;
    }
    if (a == flag && i + 1 < args.size()) {
      args[i + 1] = value;
      return;
    }
  }
  args.push_back(std::string(flag) + "=" + value);
}

bool HasFlag(const std::vector<std::string>& args, std::string_view flag) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
    return a == flag || (a.starts_with(flag) && a.size() > flag.size() && a[flag.size()] == '=');
  });
}

std::string LookupMap(const std::map<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? std::string() : it->second;
}

// What a runtime may carry (KServe accepts it) but a local process cannot honour: the replica is not started
// and the service shows RuntimeNotRunnable with this message (an InferenceService's own containers are
// refused at apply instead; see docs/kserve-fields.md).
Status CheckRunnable(const Json& runtime, const Json& container, const std::string& where) {
  const Json& spec = runtime["spec"];
  if (spec.is_object() && spec.contains("workerSpec") && !spec["workerSpec"].is_null()) {
    return InvalidArgument(where + ": workerSpec (multi-node serving over several machines) is not supported");
  }
  if (container.contains("envFrom") && !container["envFrom"].is_null()) {
    return InvalidArgument(where + ": envFrom is not supported (ConfigMap and Secret references are not resolved)");
  }
  if (container.contains("env") && container["env"].is_array()) {
    for (const auto& e : container["env"]) {
      if (e.is_object() && e.contains("valueFrom") && !e["valueFrom"].is_null()) {
        return InvalidArgument(
            where + ": env " + (e.contains("name") && e["name"].is_string() ? e["name"].get<std::string>() : "") +
            ": valueFrom is not supported (ConfigMap, Secret and field references are not resolved)");
      }
    }
  }
  return Status::Ok();
}

// A runtime's model container: its kserve-container, else its first (null: none).
const Json* RuntimeContainer(const Json& runtime) {
  if (!runtime.is_object() || !runtime.contains("spec") || !runtime["spec"].is_object()) return nullptr;
  const Json& spec = runtime["spec"];
  if (!spec.contains("containers") || !spec["containers"].is_array()) return nullptr;
  const Json& containers = spec["containers"];
  const Json* found = nullptr;
  for (const auto& c : containers) {
    if (c.is_object() && c.value("name", "") == "kserve-container") found = &c;
  }
  if (!found && !containers.empty()) found = &containers.front();
  return found;
}

// The container a replica runs: the component's first own container, else the runtime's kserve-container (or
// its first), with the implementation's command, workingDir and readinessProbe over the runtime's. `where`
// names it for messages.
Status ChooseContainer(const ReplicaCommandInput& in, resources::ContainerSpec* container, std::string* where) {
  if (!in.spec->containers.empty()) {
    *container = in.spec->containers.front();
    *where = "spec.predictor.containers[0]";
    return Status::Ok();
  }
  if (!in.runtime) return InvalidArgument("no runtime");
  const Json* found = RuntimeContainer(*in.runtime);
  std::string rt_name = (*in.runtime)["metadata"].value("name", "");
  if (!found) return InvalidArgument("runtime " + rt_name + " has no container");
  *where = "runtime " + rt_name;
  RETURN_IF_ERROR(CheckRunnable(*in.runtime, *found, *where));
  *container = resources::ParseContainer(*found);
  // The implementation's container fields override the runtime's (KServe merges the two containers).
  if (!in.spec->command.empty()) container->command = in.spec->command;
  if (!in.spec->working_dir.empty()) container->working_dir = in.spec->working_dir;
  if (in.spec->readiness) container->readiness = in.spec->readiness;
  return Status::Ok();
}

// The payload logger's flags (logger/payload_logger.h) for an `inferd model-server` replica: KServe's agent's
// attributes (Ce-Inferenceservicename, Ce-Namespace, Ce-Component) and the spec's url/mode/metadataHeaders.
void SetLoggerFlags(std::vector<std::string>& rest, const ReplicaCommandInput& in) {
  const auto& l = *in.spec->logger;
  SetFlag(rest, "--log_url", l.url.empty() ? "http://default-broker" : l.url);  // KServe's configmap default
  SetFlag(rest, "--log_mode", l.mode);
  SetFlag(rest, "--inference_service", in.isvc_name);
  SetFlag(rest, "--namespace", in.ns);
  SetFlag(rest, "--component", in.spec->component);
  std::string headers;
  for (const auto& h : l.metadata_headers) headers += (headers.empty() ? "" : ",") + h;
  if (!headers.empty()) SetFlag(rest, "--log_metadata_headers", headers);
  // KServe's agent injector: the annotations named in metadataAnnotations that the service has, as key=value.
  for (const auto& key : l.metadata_annotations) {
    auto it = in.spec->annotations.find(key);
    if (it != in.spec->annotations.end()) rest.push_back("--log_metadata_annotations=" + key + "=" + it->second);
  }
}

// `inferd model-server`'s flags after the subcommand: ports 0 on loopback (it prints the ones it got), its
// Unix socket, the declared model format, the batcher, the payload logger.
Status SetModelServerFlags(std::vector<std::string>& rest, const ReplicaCommandInput& in) {
  SetFlag(rest, "--http_port", "0");
  SetFlag(rest, "--grpc_port", "0");
  SetFlag(rest, "--host", "127.0.0.1");
  if (!in.uds_path.empty()) SetFlag(rest, "--uds", in.uds_path);
  // The declared model format is what the model server must load (KServe's lgbserver fails on a joblib file;
  // detecting the format from the files would serve it anyway). Repositories (Triton) declare per model.
  static constexpr std::array<std::string_view, 5> kServerFormats = {"sklearn", "xgboost", "lightgbm", "pytorch",
                                                                     "onnx"};
  if (std::find(kServerFormats.begin(), kServerFormats.end(), in.spec->format) != kServerFormats.end() &&
      !HasFlag(rest, "--model_format") && !HasFlag(rest, "--model_repository") && !HasFlag(rest, "--model-store") &&
      !HasFlag(rest, "--model-repository") && !HasFlag(rest, "--python")) {
    SetFlag(rest, "--model_format", in.spec->format);
  }
  if (in.spec->batcher && !HasFlag(rest, "--max_batch_size")) {
    SetFlag(rest, "--max_batch_size", std::to_string(in.spec->batcher->max_batch_size > 0
                                                          ? in.spec->batcher->max_batch_size
                                                          : 32));
    // KServe's agent's defaults (cmd/agent/main.go): 32 instances, 5000 ms.
    SetFlag(rest, "--max_latency", std::to_string(int64_t{in.spec->batcher->max_latency_ms > 0
                                                              ? in.spec->batcher->max_latency_ms
                                                              : 5000} * 1000));
  }
  if (in.spec->batcher && (HasFlag(rest, "--python") || HasFlag(rest, "--python_module"))) {
    return InvalidArgument(in.spec->component + ".batcher: a Python model (--python) takes its V1 bodies whole, "
                           "so inferd cannot batch them; remove the batcher");
  }
  if (in.spec->logger) SetLoggerFlags(rest, in);
  return Status::Ok();
}

}  // namespace

std::string ExpandTemplate(std::string_view text, const ReplicaCommandInput& in) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("{{", i);
    if (open == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, open - i));
    std::string_view expr = text.substr(open + 2, close - open - 2);
    while (!expr.empty() && expr.front() == ' ') expr.remove_prefix(1);
    while (!expr.empty() && expr.back() == ' ') expr.remove_suffix(1);
    if (expr == ".Name") {
      out += in.isvc_name;
    } else if (expr == ".Namespace") {
      out += in.ns;
    } else if (expr.starts_with(".Labels.") && in.spec) {
      out += LookupMap(in.spec->labels, std::string(expr.substr(8)));
    } else if (expr.starts_with(".Annotations.") && in.spec) {
      out += LookupMap(in.spec->annotations, std::string(expr.substr(13)));
    } else {
      out.append(text.substr(open, close + 2 - open));  // unknown: left as written
    }
    i = close + 2;
  }
  // KServe mounts the model at /mnt/models; here it is a local directory.
  constexpr std::string_view kMount = "/mnt/models";
  if (!in.model_path.empty()) {
    size_t pos = 0;
    while ((pos = out.find(kMount, pos)) != std::string::npos) {
      size_t end = pos + kMount.size();
      if (end == out.size() || out[end] == '/' || out[end] == ' ' || out[end] == ',' || out[end] == ':') {
        out.replace(pos, kMount.size(), in.model_path);
        pos += in.model_path.size();
      } else {
        pos = end;
      }
    }
  }
  return out;
}

std::string LoadFailureFromIndex(std::string_view body) {
  auto parsed = ParseBoundedJson(body, "repository index");
  if (!parsed.ok() || !parsed->is_array()) return "";
  for (const auto& m : *parsed) {
    if (!m.is_object()) continue;
    auto text = [&m](const char* key) {
      auto it = m.find(key);
      return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (text("state") == "UNAVAILABLE") {
      std::string reason = text("reason");
      return reason.empty() ? "model " + text("name") + " is unavailable" : reason;
    }
  }
  return "";
}

StatusOr<supervisor::ReplicaSpec> BuildReplicaSpec(const ReplicaCommandInput& in) {
  if (!in.spec) return InvalidArgument("no component spec");
  resources::ContainerSpec container;
  std::string where;
  RETURN_IF_ERROR(ChooseContainer(in, &container, &where));
  const std::string image = container.image;
  std::vector<std::string> command = container.command, args = container.args;
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& e : container.env) env.emplace_back(e.name, e.value);
  if (command.empty()) {
    if (IsInferdImage(image)) {
      command = {"inferd"};
    } else if (const CompatibleImage* c = FindCompatibleImage(image)) {
      command = {"inferd", "model-server"};
      if (c->add_model_flags) {
        for (const char* flag : {"--model_name={{.Name}}", "--model_dir=/mnt/models"}) {
          if (!HasFlag(args, std::string_view(flag, std::string_view(flag).find('=')))) args.push_back(flag);
        }
      }
    } else {
      return InvalidArgument(where + ": container image '" + image +
                             "' has no command; without Kubernetes inferd runs containers as local commands, so "
                             "give the container a `command` (e.g. [\"inferd\", \"model-server\"] or a script)");
    }
  }
  for (const auto& a : in.spec->args) args.push_back(a);
  for (const auto& e : in.spec->env) env.emplace_back(e.name, e.value);

  supervisor::ReplicaSpec r;
  r.name = in.replica_name;
  bool is_inferd = command.front() == "inferd" || command.front().ends_with("/inferd");
  std::vector<std::string> argv;
  for (auto& c : command) argv.push_back(ExpandTemplate(c, in));
  for (auto& a : args) argv.push_back(ExpandTemplate(a, in));
  for (auto& [k, v] : env) v = ExpandTemplate(v, in);
  if (is_inferd) argv.front() = in.inferd_bin;
  const bool model_server = is_inferd && argv.size() > 1 && argv[1] == "model-server";
  if (model_server) {
    std::vector<std::string> rest(argv.begin() + 2, argv.end());
    RETURN_IF_ERROR(SetModelServerFlags(rest, in));
    argv.resize(2);
    argv.insert(argv.end(), rest.begin(), rest.end());
    r.ports_from_stdout = true;
  } else {
    // The logger and the batcher live in inferd model-server; any other command cannot honour them.
    for (const auto& [set, field] : {std::pair{in.spec->logger.has_value(), "logger"},
                                     std::pair{in.spec->batcher.has_value(), "batcher"}}) {
      if (set) {
        return InvalidArgument(in.spec->component + "." + field + ": the replica's command '" + argv.front() +
                               "' is not inferd model-server, which is what logs payloads and batches requests");
      }
    }
    int port = FreeLoopbackPort();
    if (port == 0) return Unavailable("no free loopback port for " + in.replica_name);
    std::vector<std::string> rest(argv.begin() + 1, argv.end());
    for (std::string_view flag : {"--http_port", "--port"}) {
      if (HasFlag(rest, flag)) SetFlag(rest, flag, std::to_string(port));
    }
    argv.resize(1);
    argv.insert(argv.end(), rest.begin(), rest.end());
    env.emplace_back("PORT", std::to_string(port));
    r.ports_from_stdout = false;
    r.fixed_http_port = port;
  }
  r.argv = std::move(argv);
  r.env = std::move(env);
  if (!container.working_dir.empty()) r.cwd = ExpandTemplate(container.working_dir, in);
  if (const auto& p = container.readiness) {
    if (!p->path.empty()) r.ready_path = p->path.front() == '/' ? p->path : "/" + p->path;
    if (p->period_seconds > 0) r.ready_probe_interval = std::chrono::seconds(p->period_seconds);
    if (p->timeout_seconds > 0) r.probe_timeout = std::chrono::seconds(p->timeout_seconds);
    if (p->failure_threshold > 0) r.failure_threshold = p->failure_threshold;
  }
  if (in.spec->termination_grace_seconds) r.stop_grace = std::chrono::seconds(*in.spec->termination_grace_seconds);
  if (!in.model_path.empty()) r.env.emplace_back("STORAGE_URI", in.spec->storage_uri);
  r.status_path = "/v2/repository/index";
  r.not_ready_reason = LoadFailureFromIndex;
  return r;
}

int ReplicaGpus(const resources::ComponentSpec& spec, const resources::Json* runtime) {
  if (spec.gpus) return *spec.gpus;
  if (!spec.containers.empty() || !runtime) return 0;
  const Json* c = RuntimeContainer(*runtime);
  return c ? resources::GpuLimit(*c).value_or(0) : 0;
}

}  // namespace inferd::control
