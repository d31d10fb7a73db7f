#include "cli/logger_flags.h"

#include "logger/payload_logger.h"

namespace inferd::cli {

void AddLoggerFlags(CLI::App* cmd, LoggerFlags* f) {
  auto& l = f->config;
  cmd->add_option("--log_url,--log-url", l.url, "Payload logger: send each request and response as a CloudEvent "
                                                "to this http(s) URL (empty = off)");
  cmd->add_option("--log_mode,--log-mode", f->mode, "Payload logger: all, request or response")
      ->capture_default_str();
  cmd->add_option("--log_metadata_headers,--metadata-headers", l.metadata_headers,
                  "Payload logger: request headers copied into Ce-Metadata (comma-separated or repeated)")
      ->delimiter(',');
  cmd->add_option("--log_metadata_annotations", l.annotations,
                  "Payload logger: key=value sent in Ce-Annotations (repeatable; KServe's --metadata-annotations)");
  cmd->add_option("--source_uri,--source-uri", l.source_uri, "Payload logger: Ce-Source")->capture_default_str();
  cmd->add_option("--inference_service,--inference-service", l.inference_service,
                  "Payload logger: Ce-Inferenceservicename");
  cmd->add_option("--namespace", l.ns, "Payload logger: Ce-Namespace");
  cmd->add_option("--component", l.component, "Payload logger: Ce-Component (predictor, transformer, explainer)");
  cmd->add_option("--endpoint", l.endpoint, "Payload logger: Ce-Endpoint");
  cmd->add_option("--log_queue_size", l.queue_capacity, "Payload logger: events waiting; one more is dropped")
      ->capture_default_str();
  cmd->add_option("--log_workers", l.workers, "Payload logger: sender threads, each with its own kept connection")->capture_default_str();
  cmd->add_option("--log_sender_nice", l.sender_nice,
                  "Payload logger: added to the sender threads' nice value (0-19; above 0 inference wins the CPU "
                  "and the logger drops, counted, what it cannot send)")
      ->capture_default_str();
  cmd->add_option("--log_batch_linger_ms", f->batch_linger_ms,
                  "Payload logger: with less than a batch queued, how long a sender waits for more before it sends "
                  "(0-1000; 0 = at once)")
      ->capture_default_str();
  cmd->add_option("--log_timeout", l.timeout_s, "Payload logger: seconds per send")->capture_default_str();
  cmd->add_option("--log_retries", f->retries, "Payload logger: retries of a failed send (with backoff)")
      ->capture_default_str();
  cmd->add_option("--log_ca_cert_file,--logger-ca-cert-file", l.ca_file,
                  "Payload logger: CA bundle (PEM) for an https sink");
  cmd->add_flag("--log_tls_skip_verify,--logger-tls-skip-verify", f->tls_skip_verify,
                "Payload logger: do not verify an https sink's certificate");
}

std::string ApplyLoggerFlags(LoggerFlags* f) {
  auto& l = f->config;
  auto mode = logger::ParseLogMode(f->mode);
  if (!mode.ok()) return "--log_mode: " + mode.status().message();
  l.mode = *mode;
  l.retry.max_attempts = f->retries < 0 || f->retries > 9 ? 0 : f->retries + 1;
  l.tls_verify = !f->tls_skip_verify;
  l.batch_linger = std::chrono::milliseconds(f->batch_linger_ms);
  if (Status st = logger::ValidateConfig(l); !st.ok()) return st.message();
  return "";
}

}  // namespace inferd::cli
