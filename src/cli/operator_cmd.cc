// cli/operator_cmd.cc: `inferd operator`, the Kubernetes operator (operator/controller.h) for clusters
// without KServe: reconciles InferenceServices into Deployments, Services, HPAs and Ingresses/HTTPRoutes
// (or Knative Services). `--print-rbac` prints the API access it needs (operator/rbac.h) and exits.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>

#include "cli/commands.h"
#include "cli/shutdown_signals.h"
#include "core/logging.h"
#include "kube/client.h"
#include "operator/controller.h"
#include "operator/health.h"
#include "operator/rbac.h"

namespace inferd::cli {

namespace {
int g_operator_exit = 0;

struct OperatorFlags {
  std::string kubeconfig, context, log_level = "info";
  bool print_rbac = false;
  std::string lease_namespace;  // "" = $POD_NAMESPACE, else the configuration's namespace
  int health_port = 0;          // 0 = none
  std::string health_host = "0.0.0.0";
};

void AddPlanFlags(CLI::App* cmd, op::OperatorConfig* c) {
  cmd->add_option("--ingress_domain", c->ingress_domain, "Domain of the Ingress hosts (KServe's ingressDomain)")
      ->capture_default_str();
  cmd->add_option("--domain_template", c->domain_template, "Host name template (KServe's domainTemplate)")
      ->capture_default_str();
  cmd->add_option("--url_scheme", c->url_scheme, "Scheme of status.url (http or https)")
      ->check(CLI::IsMember({"http", "https"}))
      ->capture_default_str();
  cmd->add_option("--ingress_class", c->ingress_class, "ingressClassName of the Ingresses (empty: the cluster default)");
  cmd->add_flag("--gateway_api", c->gateway_api, "Route with Gateway API HTTPRoutes instead of Ingresses");
  cmd->add_option("--gateway", c->gateway, "namespace/name of the Gateway the HTTPRoutes attach to")->capture_default_str();
  cmd->add_flag("--disable_ingress_creation", c->disable_ingress_creation, "Create no Ingress/HTTPRoute");
  cmd->add_option("--default_deployment_mode", c->default_deployment_mode,
                  "Mode of InferenceServices without the deploymentMode annotation")
      ->check(CLI::IsMember({"Standard", "RawDeployment", "Knative", "Serverless"}))
      ->capture_default_str();
  cmd->add_flag("--knative", c->knative_installed, "Knative Serving is installed: Knative mode creates Knative Services");
  cmd->add_option("--image", c->model_server_image, "Image of `inferd model-server` for inferd's built-in runtimes")
      ->capture_default_str();
  cmd->add_option("--storage_initializer_image", c->storage_initializer_image,
                  "Image of the init container that downloads storageUri to /mnt/models")
      ->capture_default_str();
  cmd->add_option("--art_explainer_image", c->art_explainer_image,
                  "Image of spec.explainer.art (empty: --image running `inferd art-explainer`; "
                  "kserve/art-explainer runs KServe's Python art server)");
  cmd->add_option("--agent_image", c->agent_image,
                  "KServe's agent sidecar, injected for a logger or batcher on a container that is not inferd model-server")
      ->capture_default_str();
  cmd->add_option("--logger_default_url", c->logger_default_url, "Sink of a logger without url (KServe's defaultUrl)")
      ->capture_default_str();
}

// $POD_NAME (the Deployment passes it), else host name and a random number.
std::string Identity() {
  if (const char* pod = std::getenv("POD_NAME"); pod && *pod) return pod;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  return std::string(host) + "_" + std::to_string(rd());
}

int Run(const OperatorFlags& f, op::ControllerOptions opt) {
  if (f.print_rbac) {
    std::printf("%s\n", op::RbacJson().dump(2).c_str());
    return 0;
  }
  InitLogging(f.log_level);
  // --kubeconfig, else in-cluster, else $KUBECONFIG / ~/.kube/config.
  StatusOr<kube::KubeConfig> cfg = f.kubeconfig.empty() ? kube::InClusterConfig() : kube::LoadKubeConfigFile(f.kubeconfig, f.context);
  if (!cfg.ok() && f.kubeconfig.empty()) cfg = kube::LoadKubeConfigFile("", f.context);
  if (!cfg.ok()) {
    std::fprintf(stderr, "inferd operator: %s\n", cfg.status().message().c_str());
    return 1;
  }
  opt.leader.identity = Identity();
  const char* pod_ns = std::getenv("POD_NAMESPACE");
  opt.leader.lease_namespace = !f.lease_namespace.empty() ? f.lease_namespace
                               : pod_ns && *pod_ns        ? std::string(pod_ns)
                                                          : cfg->namespace_name;
  const sigset_t set = BlockShutdownSignals();  // before any thread starts
  kube::KubeClient client(*cfg);
  op::Controller controller(client, opt);
  controller.Start();
  std::unique_ptr<op::HealthServer> health;
  if (f.health_port > 0) {
    auto h = op::HealthServer::Start(f.health_host, f.health_port, [&controller] { return controller.HasSynced(); });
    if (!h.ok()) {
      std::fprintf(stderr, "inferd operator: %s\n", h.status().message().c_str());
      controller.Stop();
      return 1;
    }
    health = std::move(*h);
  }
  const std::string scope = opt.watch_namespace.empty() ? "all namespaces" : "namespace " + opt.watch_namespace;
  std::printf("inferd operator watching %s at %s%s health_port=%d\n", scope.c_str(), cfg->server.c_str(),
              opt.leader_elect ? " (leader election on)" : "", health ? health->port() : 0);
  std::fflush(stdout);
  LOG_INFO("received signal {}: stopping", WaitForShutdownSignal(set));
  controller.Stop();
  return 0;
}
}  // namespace

void AddOperatorCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("operator", "Run the Kubernetes operator: InferenceServices -> Deployments, Services, HPAs, Ingresses");
  auto f = std::make_shared<OperatorFlags>();
  auto opt = std::make_shared<op::ControllerOptions>();
  cmd->add_option("--kubeconfig", f->kubeconfig, "kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config)");
  cmd->add_option("--context", f->context, "kubeconfig context (default: current-context)");
  cmd->add_option("--namespace", opt->watch_namespace, "Watch only this namespace (default: all)");
  cmd->add_flag("--leader_elect", opt->leader_elect, "Reconcile only while holding the Lease inferd-operator-leader");
  cmd->add_option("--leader_election_namespace", f->lease_namespace, "Namespace of the Lease (default: $POD_NAMESPACE, else the kubeconfig's)");
  cmd->add_flag("--builtin_runtimes,!--no_builtin_runtimes", opt->builtin_runtimes,
                "Offer inferd's built-in ClusterServingRuntimes the cluster does not define (default on)");
  cmd->add_flag("--print-rbac,--print_rbac", f->print_rbac, "Print the API groups, resources and verbs it uses (JSON) and exit");
  cmd->add_option("--health_port", f->health_port, "Serve /healthz and /readyz on this port (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--health_host", f->health_host, "Address of the health port")->capture_default_str();
  cmd->add_option("--log_level", f->log_level, "trace, debug, info, warn, error")->capture_default_str();
  AddPlanFlags(cmd, &opt->plan);
  cmd->callback([f, opt] {
    if (opt->plan.default_deployment_mode == "RawDeployment") opt->plan.default_deployment_mode = "Standard";
    if (opt->plan.default_deployment_mode == "Serverless") opt->plan.default_deployment_mode = "Knative";
    g_operator_exit = Run(*f, *opt);
  });
}

int OperatorExitCode() { return g_operator_exit; }

}  // namespace inferd::cli
