#include "control/replica_command.h"

#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <thread>

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
constexpr std::array<CompatibleImage, 8> kCompatibleImages = {{{"kserve/sklearnserver", false},
                                                              {"kserve/xgbserver", false},
                                                              {"kserve/lgbserver", false},
                                                              {"kserve/predictiveserver", false},
                                                              {"nvidia/tritonserver", false},
                                                              {"pytorch/torchserve-kfs", false},
                                                              {"pytorch/torchserve", false},
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

// TF Serving's server (KServe's kserve-tensorflow-serving: command /usr/bin/tensorflow_model_server in the
// tensorflow/serving image) runs as `inferd model-server`, which serves the same APIs (TF Serving's REST and gRPC,
// server/tfserving_grpc.h): its flags are mapped onto inferd's, and a flag without a counterpart is refused by name.
bool IsTfModelServer(const std::vector<std::string>& command) {
  if (command.empty()) return false;
  const std::string& c = command.front();
  return c == "tensorflow_model_server" || c.ends_with("/tensorflow_model_server");
}

struct TfServingFlag {
  std::string_view name;    // tensorflow_model_server's
  std::string_view inferd;  // inferd model-server's
};
constexpr std::array<TfServingFlag, 7> kTfServingFlags = {{{"--model_name", "--model_name"},
                                                          {"--model_base_path", "--model_dir"},
                                                          {"--port", "--grpc_port"},
                                                          {"--rest_api_port", "--http_port"},
                                                          {"--rest_api_num_threads", "--workers"},
                                                          {"--tensorflow_intra_op_parallelism", "--intra_op_threads"},
                                                          {"--rest_api_timeout_in_ms", "--rest_api_timeout_in_ms"}}};

// `args` of tensorflow_model_server (the command's own after it, then the container's) as inferd model-server's.
StatusOr<std::vector<std::string>> MapTfServingArgs(const std::vector<std::string>& command,
                                                    const std::vector<std::string>& args, const std::string& where) {
  std::vector<std::string> in(command.begin() + 1, command.end());
  in.insert(in.end(), args.begin(), args.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < in.size(); ++i) {
    std::string a = in[i];
    if (a.starts_with("-") && !a.starts_with("--")) a = "-" + a;  // TensorFlow's parser takes -flag too
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    std::string value;
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (i + 1 < in.size() && !in[i + 1].starts_with("-")) {
      value = in[++i];
    }
    auto it = std::find_if(kTfServingFlags.begin(), kTfServingFlags.end(),
                           [&](const TfServingFlag& f) { return f.name == name; });
    if (!a.starts_with("--") || it == kTfServingFlags.end()) {
      std::string known;
      for (const auto& f : kTfServingFlags) known += (known.empty() ? "" : ", ") + std::string(f.name);
      return InvalidArgument(where + ": tensorflow_model_server argument '" + in[i] + "' has no counterpart in inferd "
                             "model-server, which serves this container (flags it maps: " + known + ")");
    }
    if (value.empty()) return InvalidArgument(where + ": tensorflow_model_server flag " + name + " needs a value");
    if (name == "--rest_api_port" && value == "0") {
      return InvalidArgument(where + ": tensorflow_model_server flag --rest_api_port=0 turns REST off; inferd "
                             "model-server always serves REST (KServe's V1 paths and its probes need it)");
    }
    out.push_back(std::string(it->inferd) + "=" + value);
  }
  return out;
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

// Removes every `--flag=value` and `--flag value` (a following word that is not itself a flag).
void RemoveFlag(std::vector<std::string>& args, std::string_view flag) {
  std::vector<std::string> kept;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.starts_with(flag) && a.size() > flag.size() && a[flag.size()] == '=') continue;
    if (a == flag) {
      if (i + 1 < args.size() && !args[i + 1].starts_with("--")) ++i;
      continue;
    }
    kept.push_back(a);
  }
  args = std::move(kept);
}

// A multi-model predictor's `inferd model-server`: the service's repository (TrainedModels by their own names)
// instead of one model, and the memory budget from resources.limits.memory.
void SetMultiModelFlags(std::vector<std::string>& rest, const ReplicaCommandInput& in) {
  RemoveFlag(rest, "--model_dir");
  RemoveFlag(rest, "--model_name");
  RemoveFlag(rest, "--model_format");
  if (!HasFlag(rest, "--model_repository") && !HasFlag(rest, "--model-repository") &&
      !HasFlag(rest, "--model-store")) {
    SetFlag(rest, "--model_repository", in.model_repository);
  }
  const std::optional<double>& mem = in.spec->memory_limit_bytes;
  if (mem && *mem >= 1 && !HasFlag(rest, "--memory_budget")) {
    SetFlag(rest, "--memory_budget", std::to_string(static_cast<int64_t>(*mem)));
  }
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

// KServe's art explainer container (explainer_art.go GetContainer), as `inferd art-explainer`: --model_name,
// --http_port (replaced by the replica's port), --predictor_host (always the predictor), --workers with
// containerConcurrency, --storage_uri with a storageUri, --adversary_type, one --<key> <value> per config
// entry (keys sorted), then the user's args (once: KServe's doubling of them is a bug, not a behaviour).
resources::ContainerSpec ArtContainer(const ReplicaCommandInput& in) {
  const resources::ComponentSpec& s = *in.spec;
  resources::ContainerSpec c;
  c.name = "kserve-container";
  c.command = s.command.empty() ? std::vector<std::string>{"inferd", "art-explainer"} : s.command;
  c.args = {"--model_name", in.isvc_name, "--http_port", "8080", "--predictor_host", in.predictor_host};
  if (s.container_concurrency > 0) c.args.insert(c.args.end(), {"--workers", std::to_string(s.container_concurrency)});
  if (!s.storage_uri.empty()) c.args.insert(c.args.end(), {"--storage_uri", "/mnt/models"});
  c.args.insert(c.args.end(), {"--adversary_type", s.art_type});
  for (const auto& [k, v] : s.art_config) c.args.insert(c.args.end(), {"--" + k, v});
  c.working_dir = s.working_dir;
  c.readiness = s.readiness;
  return c;
}

// The container a replica runs: the component's first own container, else the runtime's kserve-container (or
// its first), with the implementation's command, workingDir and readinessProbe over the runtime's. `where`
// names it for messages.
Status ChooseContainer(const ReplicaCommandInput& in, resources::ContainerSpec* container, std::string* where) {
  if (!in.spec->containers.empty()) {
    *container = in.spec->containers.front();
    *where = "spec." + in.spec->component + ".containers[0]";
    return Status::Ok();
  }
  if (!in.spec->art_type.empty()) {
    *where = "spec.explainer.art";
    *container = ArtContainer(in);
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
  if (in.spec->multi_model) SetMultiModelFlags(rest, in);
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
    for (const std::string& f : BatcherFlags(*in.spec->batcher)) {
      const size_t eq = f.find('=');
      SetFlag(rest, std::string_view(f).substr(0, eq), f.substr(eq + 1));
    }
  }
  if (in.spec->batcher && in.spec->component == "explainer") {
    return InvalidArgument("explainer.batcher: an explainer is not batched (KServe's batcher batches :predict only); "
                           "remove the batcher");
  }
  if (in.spec->batcher && (HasFlag(rest, "--python") || HasFlag(rest, "--python_module"))) {
    return InvalidArgument(in.spec->component + ".batcher: a Python model (--python) takes its V1 bodies whole, "
                           "so inferd cannot batch them; remove the batcher");
  }
  if (in.spec->logger) SetLoggerFlags(rest, in);
  return Status::Ok();
}

// The value of `--flag value` / `--flag=value` in args (the last one given), nullopt when absent.
std::optional<std::string> FlagValue(const std::vector<std::string>& args, std::string_view flag) {
  std::optional<std::string> v;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > flag.size() && a.starts_with(flag) && a[flag.size()] == '=') v = a.substr(flag.size() + 1);
    if (a == flag && i + 1 < args.size()) v = args[i + 1];
  }
  return v;
}

// A `--workers` value as a process count: a whole number >= 1, at most kMaxProcesses (nullopt: absent, 0 or not a
// number, which leave the default).
std::optional<int> WorkersAsProcesses(const std::vector<std::string>& args) {
  const std::optional<std::string> v = FlagValue(args, "--workers");
  int n = 0;
  if (!v || v->empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || ptr != v->data() + v->size() || n < 1) return std::nullopt;
  return std::min(n, kMaxProcesses);
}

// The CPUs this process may run on (sched_getaffinity: a container's cpuset, `taskset`), at least 1.
int AvailableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return std::max(1u, std::thread::hardware_concurrency());
}

// A predictor replica whose `inferd model-server` runs Python serves as N processes on its REST port (see the
// contract and docs/pipeline.md#processes-under-inferd-serve). `rest`: the model server's flags, Python's included.
Status SetProcessesFlag(std::vector<std::string>& rest, const ReplicaCommandInput& in) {
  if (in.spec->component != "predictor" || in.spec->multi_model) return Status::Ok();
  if (!HasFlag(rest, "--python") && !HasFlag(rest, "--python_module")) return Status::Ok();  // native: no GIL
  for (std::string_view repo : {"--model_repository", "--model-repository", "--model-store"}) {
    if (HasFlag(rest, repo)) return Status::Ok();  // each process would load and unload models on its own
  }
  std::optional<int> annotated;
  if (auto it = in.spec->annotations.find(resources::kProcessesAnnotation); it != in.spec->annotations.end()) {
    ASSIGN_OR_RETURN(annotated, resources::ParseProcessesAnnotation(it->second));
  }
  if (const auto written = FlagValue(rest, "--processes")) {  // the container's args say: kept as written
    if (annotated && *written != std::to_string(*annotated)) {
      return InvalidArgument(std::string(resources::kProcessesAnnotation) + ": " + std::to_string(*annotated) +
                             ", but the predictor's args say --processes " + *written + "; keep one of them");
    }
    return Status::Ok();
  }
  // KServe's --workers (its Python server's processes): the model server's own, else the Python program's.
  std::vector<std::string> py_args;
  for (const auto& a : rest) {
    if (a.starts_with("--python_arg=")) py_args.push_back(a.substr(13));
  }
  std::optional<int> n = annotated;
  if (!n) n = WorkersAsProcesses(rest);
  if (!n) n = WorkersAsProcesses(py_args);
  if (!n) n = std::min(in.cores > 0 ? in.cores : AvailableCores(), kDefaultProcessesCap);
  if (*n <= 1) return Status::Ok();
  // --uds stays: the first process passes the socket's connections to the copies in turn, as the TCP port's
  // (cli/worker_processes.h).
  RemoveFlag(rest, "--workers");  // one front-end thread per process (the model server sets it anyway)
  SetFlag(rest, "--processes", std::to_string(*n));
  return Status::Ok();
}

}  // namespace

bool IsInferdImage(std::string_view image) {
  if (auto at = image.find('@'); at != std::string_view::npos) image = image.substr(0, at);
  if (auto slash = image.rfind('/'); slash != std::string_view::npos) image = image.substr(slash + 1);
  if (auto colon = image.find(':'); colon != std::string_view::npos) image = image.substr(0, colon);
  return image == "inferd";
}

std::vector<std::string> BatcherFlags(const resources::ComponentSpec::Batcher& b) {
  // KServe's agent's defaults (cmd/agent/main.go): 32 instances, 5000 ms.
  return {"--max_batch_size=" + std::to_string(b.max_batch_size > 0 ? b.max_batch_size : 32),
          "--max_latency=" + std::to_string(int64_t{b.max_latency_ms > 0 ? b.max_latency_ms : 5000} * 1000)};
}

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

namespace {

// python, python3, python3.12, /usr/bin/python3, ...
bool IsPythonInterpreter(std::string_view arg0) {
  if (auto slash = arg0.rfind('/'); slash != std::string_view::npos) arg0 = arg0.substr(slash + 1);
  if (arg0 == "python" || arg0 == "python3") return true;
  if (!arg0.starts_with("python3.") || arg0.size() == 8) return false;
  return std::all_of(arg0.begin() + 8, arg0.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

}  // namespace

std::optional<PythonCommand> ParsePythonCommand(const std::vector<std::string>& command,
                                                const std::vector<std::string>& args) {
  std::vector<std::string> line = command;
  line.insert(line.end(), args.begin(), args.end());
  if (line.empty() || !IsPythonInterpreter(line.front())) return std::nullopt;
  PythonCommand py;
  size_t i = 1;
  for (; i < line.size(); ++i) {
    const std::string& a = line[i];
    if (a == "-m") {
      if (i + 1 >= line.size()) return std::nullopt;
      py.module = line[i + 1];
      i += 2;
      break;
    }
    if (a.starts_with("-m") && a.size() > 2 && a[2] != '-') {
      py.module = a.substr(2);
      ++i;
      break;
    }
    if (!a.starts_with("-") && a.ends_with(".py")) {
      py.script = a;
      ++i;
      break;
    }
    if (a == "-W" || a == "-X") {  // interpreter options that take a value
      ++i;
      continue;
    }
    if (!a.starts_with("-") || a == "-" || a == "-c") return std::nullopt;  // a program other than a module/file
  }
  if (py.module.empty() && py.script.empty()) return std::nullopt;
  py.args.assign(line.begin() + static_cast<std::ptrdiff_t>(std::min(i, line.size())), line.end());
  return py;
}

resources::ContainerSpec WithLocalImage(resources::ContainerSpec c, const LocalImages* images) {
  const LocalImage* local = c.command.empty() && images ? FindLocalImage(*images, c.image) : nullptr;
  if (!local) return c;
  // The image's entrypoint here (Kubernetes: the container's args replace the image's CMD).
  c.command = local->command;
  if (c.args.empty()) c.args = local->args;
  if (c.working_dir.empty()) c.working_dir = local->working_dir;
  std::vector<resources::EnvVar> env;
  for (const auto& [k, v] : local->env) env.push_back({k, v});
  env.insert(env.end(), c.env.begin(), c.env.end());
  c.env = std::move(env);
  return c;
}

std::vector<std::string> PythonModelServerFlags(const PythonCommand& py) {
  std::vector<std::string> flags;
  flags.push_back(py.module.empty() ? "--python=" + py.script : "--python_module=" + py.module);
  for (const auto& a : py.args) flags.push_back("--python_arg=" + a);
  return flags;
}

void AppendComponentFlags(const ReplicaCommandInput& in, std::vector<std::string>& args) {
  auto add = [&args](std::string_view flag, const std::string& value) {
    if (HasFlag(args, flag)) return;
    args.emplace_back(flag);
    args.push_back(value);
  };
  add("--model_name", in.isvc_name);
  add("--predictor_host", in.predictor_host);
  if (in.spec->container_concurrency > 0) add("--workers", std::to_string(in.spec->container_concurrency));
}

namespace {

std::string CommandText(const resources::ContainerSpec& c) {
  std::string t;
  for (const auto* part : {&c.command, &c.args})
    for (const auto& a : *part) t += (t.empty() ? "" : " ") + a;
  return t.empty() ? "(no command)" : t;
}

}  // namespace

InProcessPlan PlanInProcess(const resources::Json& isvc, const LocalImages* images) {
  InProcessPlan plan;
  const Json* spec = isvc.is_object() && isvc.contains("spec") ? &isvc["spec"] : nullptr;
  if (!spec || !spec->is_object()) return plan;
  const Json& md = isvc.contains("metadata") && isvc["metadata"].is_object() ? isvc["metadata"] : Json::object();
  const bool annotated = md.contains("annotations") && md["annotations"].is_object() &&
                         md["annotations"].value(kTransformerAnnotation, "") == "in-process";
  const bool has_transformer = spec->contains("transformer") && !(*spec)["transformer"].is_null();
  auto fail = [&plan](const std::string& reason, const std::string& error) {
    plan.command.reset();
    plan.reason = reason;
    plan.error = error;
    return plan;
  };
  if (annotated && has_transformer) {
    plan.from_annotation = true;
    plan.template_json = (*spec)["transformer"];
    auto t = resources::ResolveComponent(isvc, "transformer");
    if (!t.ok()) return fail("InvalidTransformerSpec", t.status().message());
    ReplicaCommandInput in;
    in.isvc_name = md.value("name", "");
    in.ns = md.value("namespace", "default");
    in.predictor_host = in.isvc_name + "-predictor." + in.ns;
    in.spec = &*t;
    const resources::ContainerSpec tc = WithLocalImage(t->containers.front(), images);
    std::vector<std::string> args = tc.args;
    AppendComponentFlags(in, args);
    plan.command = ParsePythonCommand(tc.command, args);
    if (plan.command) plan.command->working_dir = tc.working_dir;
    if (!plan.command) {
      return fail("InProcessTransformerNotRunnable",
                  "spec.transformer.containers[0]: " + std::string(kTransformerAnnotation) +
                      ": in-process runs a Python transformer (python -m module, or python file.py) inside the "
                      "predictor's inferd model-server; its command is: " + CommandText(tc));
    }
  }
  auto pred = resources::ResolvePredictor(isvc);
  if (!pred.ok() || pred->collocated.empty()) return plan;
  std::string others;
  for (const auto& n : pred->collocated)
    if (n != "transformer-container") others += (others.empty() ? "" : ", ") + (n.empty() ? "(unnamed)" : n);
  if (!others.empty()) {
    return fail("CollocatedContainerNotRunnable",
                "spec.predictor.containers: containers collocated with the model (" + others +
                    ") are not run; inferd runs a transformer-container with a Python command inside the model server");
  }
  if (!pred->collocated_transformer) return plan;
  if (plan.from_annotation) {
    return fail("InProcessTransformerNotRunnable",
                "spec.predictor.containers: a transformer-container and spec.transformer with " +
                    std::string(kTransformerAnnotation) + ": in-process both ask to run inside the predictor");
  }
  const resources::ContainerSpec tc = WithLocalImage(*pred->collocated_transformer, images);
  plan.command = ParsePythonCommand(tc.command, tc.args);
  if (plan.command) plan.command->working_dir = tc.working_dir;
  // KServe appends nothing to a collocated container; inferd's model server wraps the native model for a
  // program that names a --predictor_host (pyshim's contract), so one is added when the user gave none.
  if (plan.command && !HasFlag(plan.command->args, "--predictor_host")) {
    const std::string name = md.value("name", "");
    plan.command->args.insert(plan.command->args.end(),
                              {"--predictor_host", name + "-predictor." + md.value("namespace", "default")});
  }
  plan.template_json = {{"collocated", CommandText(tc)}};
  if (!plan.command) {
    return fail("CollocatedContainerNotRunnable",
                "spec.predictor.containers[transformer-container]: inferd runs a collocated transformer inside the "
                "model server, which needs a Python command (python -m module, or python file.py); its command "
                "is: " + CommandText(tc));
  }
  return plan;
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
  container = WithLocalImage(container, in.images);
  const std::string image = container.image;
  std::vector<std::string> command = container.command, args = container.args;
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& e : container.env) env.emplace_back(e.name, e.value);
  const bool tf_serving = IsTfModelServer(command);
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
                             "give the container a `command` (e.g. [\"inferd\", \"model-server\"] or a script), or "
                             "map the image to a local command in the `images:` section of `inferd serve --config`");
    }
  }
  const bool component = in.spec->component != "predictor";
  // A component's own container (a custom predictor, a transformer, an explainer) already holds its args and env
  // (the spec's args/env are that container's: appending them again gave every arg twice).
  if (in.spec->containers.empty()) {
    for (const auto& a : in.spec->args) args.push_back(a);
    for (const auto& e : in.spec->env) env.emplace_back(e.name, e.value);
  }
  if (tf_serving) {
    ASSIGN_OR_RETURN(args, MapTfServingArgs(command, args, where));
    command = {"inferd", "model-server"};
  }
  if (component) {
    if (in.spec->art_type.empty()) AppendComponentFlags(in, args);
    env.emplace_back("INFERENCE_SERVICE_NAME", in.isvc_name);
  }
  if (component || in.in_process) {
    if (!in.gateway_http.empty()) env.emplace_back("INFERD_GATEWAY", in.gateway_http);
    if (!in.gateway_grpc.empty()) env.emplace_back("INFERD_GATEWAY_GRPC", in.gateway_grpc);
  }
  // A transformer's or explainer's Python program runs in inferd model-server's embedded interpreter (a
  // predictor's own Python container keeps running as written: KServe's custom-model contract, port flags).
  if (auto py = component ? ParsePythonCommand(command, args) : std::nullopt) {
    command = {"inferd", "model-server"};
    args = PythonModelServerFlags(*py);
  }
  supervisor::ReplicaSpec r;
  r.name = in.replica_name;
  bool is_inferd = command.front() == "inferd" || command.front().ends_with("/inferd");
  std::vector<std::string> argv;
  for (auto& c : command) argv.push_back(ExpandTemplate(c, in));
  for (auto& a : args) argv.push_back(ExpandTemplate(a, in));
  for (auto& [k, v] : env) v = ExpandTemplate(v, in);
  if (is_inferd) argv.front() = in.inferd_bin;
  // `inferd art-explainer` is the model server serving one explainer (same ports line, readiness and flags).
  const bool model_server = is_inferd && argv.size() > 1 && (argv[1] == "model-server" || argv[1] == "art-explainer");
  if (model_server) {
    std::vector<std::string> rest(argv.begin() + 2, argv.end());
    RETURN_IF_ERROR(SetModelServerFlags(rest, in));
    if (in.in_process) {
      for (auto& f : PythonModelServerFlags(*in.in_process)) rest.push_back(ExpandTemplate(f, in));
      // The transformer's code is found where its container would run it (its workingDir).
      if (!in.in_process->working_dir.empty()) env.emplace_back("PYTHONPATH", in.in_process->working_dir);
    }
    RETURN_IF_ERROR(SetProcessesFlag(rest, in));
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
    if (in.in_process) {
      return InvalidArgument(where + ": an in-process transformer runs inside `inferd model-server`; this predictor "
                             "runs '" + argv.front() + "'");
    }
    // KServe gives a transformer or explainer its port as --http_port; here the replica's own.
    if (component && !HasFlag(rest, "--http_port") && !HasFlag(rest, "--port")) rest.push_back("--http_port=0");
    for (std::string_view flag : {"--http_port", "--port"}) {
      if (HasFlag(rest, flag)) SetFlag(rest, flag, std::to_string(port));
    }
    argv.resize(1);
    argv.insert(argv.end(), rest.begin(), rest.end());
    env.emplace_back("PORT", std::to_string(port));
    // A Python program that imports kserve (KServe's custom-model contract) finds inferd's stub package, which
    // runs it again inside `inferd model-server` on this port (control/kserve_stub.py); INFERD_BIN names it.
    if (!component && IsPythonInterpreter(argv.front()) && !in.kserve_stub_dir.empty()) {
      std::string path = in.kserve_stub_dir;
      for (auto& [k, v] : env) {
        if (k == "PYTHONPATH" && !v.empty()) path = v + ":" + path;
      }
      std::erase_if(env, [](const auto& kv) { return kv.first == "PYTHONPATH"; });
      env.emplace_back("PYTHONPATH", path);
      env.emplace_back("INFERD_BIN", in.inferd_bin);
    }
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
  if (!in.model_path.empty() && !in.spec->storage_uri.empty()) r.env.emplace_back("STORAGE_URI", in.spec->storage_uri);
  if (in.spec->multi_model && model_server) {
    // Its models are the service's TrainedModels, loaded and reported one by one (control/trained_models.h): the
    // server is ready to take them once it listens, with none loaded yet, and a model that fails is that
    // TrainedModel's failure, not the replica's.
    if (!container.readiness || container.readiness->path.empty()) r.ready_path = "/v2/health/live";
    return r;
  }
  r.status_path = "/v2/repository/index";
  r.not_ready_reason = LoadFailureFromIndex;
  return r;
}

bool ServesUds(const supervisor::ReplicaSpec& r) { return HasFlag(r.argv, "--uds"); }

int ReplicaGpus(const resources::ComponentSpec& spec, const resources::Json* runtime) {
  if (spec.gpus) return *spec.gpus;
  if (!spec.containers.empty() || !runtime) return 0;
  const Json* c = RuntimeContainer(*runtime);
  return c ? resources::GpuLimit(*c).value_or(0) : 0;
}

}  // namespace inferd::control
