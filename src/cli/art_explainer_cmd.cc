// cli/art_explainer_cmd.cc: `inferd art-explainer`: KServe's ART explainer server (kserve/art-explainer,
// python/artexplainer/artserver) natively: one explain-only model named --model_name whose :explain runs
// SquareAttack (explain/art_explainer.h) against the predictor at --predictor_host over V1 :predict.
//
// It is `inferd model-server` (server/model_server.h) serving that one model: the same ports line and readiness
// line on stdout (so `inferd serve`'s supervisor runs it like a model server), health and model endpoints,
// limits and drain. Flags (docs/configuration.md): KServe's art-server flags (--adversary_type, --max_iter,
// --nb_classes), the common KServe model-server flags it is given (ports, workers, predictor settings), inferd's
// listener flags and a few of its own (--seed, --explain_timeout, --eps, --p_init, --nb_restarts). Flags of
// KServe's parser that change nothing here are accepted with one warning each; anything else is warned about
// once and ignored, as KServe's art server parses with parse_known_args. --adversary_type other than
// SquareAttack, --predictor_protocol other than v1, or no --predictor_host stop it at start (exit 2).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/server_flags.h"
#include "cli/logger_flags.h"
#include "cli/shutdown_signals.h"
#include "core/logging.h"
#include "explain/art_explainer.h"
#include "net/listener.h"
#include "pipeline/predictor_client.h"
#include "server/model_server.h"

namespace inferd::cli {

namespace {

int g_art_exit_code = 0;

struct ArtFlags {
  ModelServerConfig cfg;
  std::string model_name = "model";  // KServe's parser default
  std::string predictor_host;
  std::string predictor_protocol = "v1";
  bool predictor_use_ssl = false;
  double predictor_timeout_s = 600;
  int predictor_retries = 0;
  std::string adversary_type = "SquareAttack";
  std::string storage_uri;
  explain::ArtExplainerOptions art;
  double explain_timeout_s = 300;
  std::string log_level = "info";
  double drain_s = 30.0;
  double timeout_keep_alive_s = 0;
  LoggerFlags logger;  // cli/logger_flags.h: a `logger` on the explainer (inferd serve passes it as these flags)
  std::vector<std::string> ignored_values;
};

// Flags of KServe's common parser that the ART server is given and that change nothing here, and why.
struct IgnoredArtFlag {
  const char* name;
  bool takes_value;
  const char* reason;
};
constexpr IgnoredArtFlag kIgnoredArtFlags[] = {
    {"--max_asyncio_workers", true, "explanations run on inferd's threads; there is no asyncio executor"},
    {"--enable_docs_url", true, "inferd serves no Swagger UI (/docs)"},
    {"--enable_latency_logging", true, "one log line per explanation is written anyway; latencies are in /metrics"},
    {"--configure_logging", true, "logging is inferd's own (--log_level)"},
    {"--log_config_file", true, "logging is inferd's own (--log_level)"},
    {"--access_log_format", true, "inferd writes no access log"},
    {"--event-loop", true, "inferd's event loop is Boost.Asio, not uvicorn's"},
    {"--protocol", true, "deprecated in KServe and read nowhere there either"},
    {"--enable_predictor_health_check", false, "readiness does not wait for the predictor (KServe's ART model "
                                               "never checks it either)"},
    // inferd serve's batcher flags (a component's `batcher`): the explainer's model takes bodies whole.
    {"--max_batch_size", true, "the ART explainer batches nothing: its requests go whole to the attack or the predictor"},
    {"--max_latency", true, "the ART explainer batches nothing: its requests go whole to the attack or the predictor"},
};

void AddFlags(CLI::App* cmd, ArtFlags* f) {
  auto& s = f->cfg.server;
  auto& a = f->art.attack;
  a.max_iter = 1000;  // KServe's --max_iter default
  cmd->add_option("--model_name", f->model_name, "The model to explain: the name served here and called on the predictor")
      ->capture_default_str();
  cmd->add_option("--predictor_host", f->predictor_host, "The predictor, host[:port] (required)");
  cmd->add_option("--predictor_protocol", f->predictor_protocol, "v1 only: the ART explainer calls V1 :predict")
      ->capture_default_str();
  cmd->add_option("--predictor_use_ssl", f->predictor_use_ssl, "Call the predictor over https")->capture_default_str();
  cmd->add_option("--predictor_request_timeout_seconds", f->predictor_timeout_s, "Seconds one predictor call may take")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 86400.0));
  cmd->add_option("--predictor_request_retries", f->predictor_retries,
                  "Accepted: KServe retries only gRPC predictor calls, and these are REST")
      ->capture_default_str();
  cmd->add_option("--adversary_type", f->adversary_type, "SquareAttack (the only type)")->capture_default_str();
  cmd->add_option("--max_iter", a.max_iter, "SquareAttack iterations at most")->capture_default_str();
  cmd->add_option("--nb_classes", a.nb_classes, "Classes the predictor tells apart")->capture_default_str();
  cmd->add_option("--storage_uri", f->storage_uri, "Accepted and ignored, as by KServe's ART server");
  cmd->add_option("--eps", a.eps, "inferd: SquareAttack's L-infinity bound (ART's default)")->capture_default_str();
  cmd->add_option("--p_init", a.p_init, "inferd: SquareAttack's initial square fraction")->capture_default_str();
  cmd->add_option("--nb_restarts", a.nb_restarts, "inferd: SquareAttack's restarts")->capture_default_str();
  cmd->add_option("--seed", a.seed, "inferd: the attack's random seed (each request starts from it)")
      ->capture_default_str();
  cmd->add_option("--explain_timeout", f->explain_timeout_s, "inferd: seconds one explanation may take (504 after)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 86400.0));
  AddFrontEndFlags(cmd, &s);
  cmd->add_option("--timeout-keep-alive", f->timeout_keep_alive_s, "KServe (uvicorn): keep-alive idle seconds")
      ->check(CLI::Range(0.001, 86400.0));
  cmd->add_option("--drain_timeout", f->drain_s, "Seconds SIGTERM waits for in-flight requests")->capture_default_str();
  cmd->add_option("--log_level", f->log_level, "trace, debug, info, warn, error")->capture_default_str();
  auto* group = cmd->add_option_group("KServe compatibility", "Accepted and ignored (a warning says why)");
  for (const IgnoredArtFlag& flag : kIgnoredArtFlags) {
    if (flag.takes_value) {
      group->add_option(flag.name, f->ignored_values, flag.reason);
    } else {
      group->add_flag(flag.name, flag.reason);
    }
  }
}

void WarnIgnored(const CLI::App& cmd, const ArtFlags& f) {
  for (const IgnoredArtFlag& flag : kIgnoredArtFlags) {
    if (cmd.count(flag.name) > 0) LOG_WARN("{}: accepted for KServe compatibility and ignored: {}", flag.name, flag.reason);
  }
  if (f.predictor_retries != 0) {
    LOG_WARN("--predictor_request_retries {}: no effect, as in KServe: only gRPC predictor calls are retried, and the "
             "ART explainer's are REST (V1 :predict)",
             f.predictor_retries);
  }
  if (!f.storage_uri.empty()) {
    LOG_WARN("--storage_uri {}: ignored, as KServe's ART server ignores it (the attack needs no model files)",
             f.storage_uri);
  }
  std::string unknown;
  for (const std::string& arg : cmd.remaining()) unknown += (unknown.empty() ? "" : " ") + arg;
  if (!unknown.empty()) {
    LOG_WARN("arguments inferd art-explainer does not know, ignored (as KServe's parse_known_args): {}", unknown);
  }
}

// Returns an error message or "".
std::string Check(ArtFlags& f) {  // completes the logger's config too
  if (Status st = explain::CheckAdversaryType(f.adversary_type); !st.ok()) return st.message();
  auto protocol = pipeline::ParsePredictorProtocol(f.predictor_protocol);
  if (!protocol.ok()) return "--predictor_protocol: " + protocol.status().message();
  if (*protocol != pipeline::PredictorProtocol::kRestV1) {
    return "--predictor_protocol " + f.predictor_protocol +
           ": the ART explainer calls the predictor's V1 :predict only (KServe's does too: its request is V1)";
  }
  if (f.predictor_host.empty()) return "--predictor_host is required: the predictor the attack queries";
  if (Status st = explain::ValidateSquareAttackOptions(f.art.attack); !st.ok()) return "--" + st.message();
  if (f.cfg.server.max_request_bytes == 0) return "--max_request_bytes must be positive";
  return ApplyLoggerFlags(&f.logger);
}

// The predictor's V1 :predict through pipeline/predictor_client.h (pooled connections; under `inferd serve`
// through the gateway named by INFERD_GATEWAY when the host is a service name).
explain::V1PredictFn ClientPredict(const ArtFlags& f) {
  pipeline::PredictorConfig config;
  config.host = f.predictor_host;
  config.protocol = pipeline::PredictorProtocol::kRestV1;
  config.use_ssl = f.predictor_use_ssl;
  config.timeout_s = f.predictor_timeout_s;
  config.max_response_bytes = int64_t{64} << 20;
  auto client = std::make_shared<pipeline::PredictorClient>(config.WithGatewayFromEnv());
  return [client, model = f.model_name](const std::string& body, const HeaderList* incoming) -> StatusOr<std::string> {
    ASSIGN_OR_RETURN(pipeline::PredictorReply reply, client->PredictV1(model, body, incoming));
    return std::move(reply.body);
  };
}

int Run(ArtFlags& f) {
  const sigset_t set = BlockShutdownSignals();
  explain::V1PredictFn predict = ClientPredict(f);
  f.art.timeout_ms = static_cast<int64_t>(f.explain_timeout_s * 1000);
  f.cfg.payload_logger = f.logger.config;
  f.cfg.server.collect_headers = true;  // :predict forwards KServe's forwardable headers to the predictor
  f.cfg.passthrough_models.push_back({f.model_name, "art-explainer", explain::NewPredictorForward(predict),
                                      explain::NewArtExplainer(f.art, predict)});
  LOG_INFO("ART explainer: model {}, predictor {}, SquareAttack max_iter {} eps {} p_init {} nb_restarts {} "
           "nb_classes {} seed {}",
           f.model_name, f.predictor_host, f.art.attack.max_iter, f.art.attack.eps, f.art.attack.p_init,
           f.art.attack.nb_restarts, f.art.attack.nb_classes, f.art.attack.seed);
  return RunModelServerUntilSignal(f.cfg, set);
}

}  // namespace

int ArtExplainerExitCode() { return g_art_exit_code; }

void AddArtExplainerCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("art-explainer",
                                 "KServe's ART explainer (spec.explainer.art, SquareAttack) against a predictor");
  cmd->allow_extras();  // KServe's art server ignores what it does not know (parse_known_args)
  auto flags = std::make_shared<ArtFlags>();
  AddFlags(cmd, flags.get());
  AddLoggerFlags(cmd, &flags->logger);
  cmd->callback([cmd, flags] {
    InitLogging(flags->log_level);
    net::RaiseFileLimit();
    auto& f = *flags;
    f.cfg.server.drain_timeout_ms = static_cast<int>(f.drain_s * 1000);
    if (cmd->count("--timeout-keep-alive") > 0 && cmd->count("--keepalive_timeout") == 0) {
      f.cfg.server.limits.timeouts.keepalive_ms = static_cast<int64_t>(f.timeout_keep_alive_s * 1000);
    }
    WarnIgnored(*cmd, f);
    if (std::string error = Check(f); !error.empty()) {
      std::fprintf(stderr, "%s\n", error.c_str());
      g_art_exit_code = 2;
      return;
    }
    g_art_exit_code = Run(f);
  });
}

}  // namespace inferd::cli
