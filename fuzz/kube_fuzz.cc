// fuzz/kube_fuzz.cc: what an API server (or a kubeconfig file) hands to src/kube/: the watch stream, cut into
// lines by LineSplitter and parsed by ParseWatchEvent (StatusFromEvent for ERROR events), and the kubeconfig
// parser. The first byte picks the read size the stream is fed in and the line bound.
// Invariants: no exception escapes; no line handed out is longer than the bound or holds a '\n'; a parsed
// event has one of the five types and an object; a kubeconfig error names the kubeconfig.
#include <algorithm>

#include "fuzz_check.h"
#include "kube/client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inferd::kube;
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  const size_t max_line = 16 + data[0] * 8;
  const std::string_view text = inferd::fuzz::AsText(data + 1, size - 1);
  LineSplitter splitter(max_line);
  for (size_t i = 0; i < text.size(); i += chunk) {
    const bool ok = splitter.Feed(text.substr(i, chunk), [&](std::string_view line) {
      FUZZ_CHECK(line.size() <= max_line, "line over the bound");
      FUZZ_CHECK(line.find('\n') == std::string_view::npos, "newline inside a line");
      Result<WatchEvent> ev = ParseWatchEvent(line);
      if (ev.ok()) {
        const std::string& t = ev->type;
        FUZZ_CHECK(t == "ADDED" || t == "MODIFIED" || t == "DELETED" || t == "BOOKMARK" || t == "ERROR", t);
        FUZZ_CHECK(ev->object.is_object(), "event without an object");
        if (t == "ERROR") FUZZ_CHECK(!StatusFromEvent(*ev).ok(), "an ERROR event read as success");
      } else {
        FUZZ_CHECK(ev.status().code == 0 && ev.status().reason == "InvalidResponse", ev.status().ToString());
      }
      return true;
    });
    if (!ok) break;
    FUZZ_CHECK(splitter.buffered() <= max_line, "buffer over the bound");
  }
  inferd::StatusOr<KubeConfig> cfg = ParseKubeConfig(text);
  if (!cfg.ok()) FUZZ_CHECK(cfg.status().message().starts_with("kubeconfig"), cfg.status().message());
  (void)StatusFromBody(500, text);
  return 0;
}
