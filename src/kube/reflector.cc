#include "kube/reflector.h"

#include <set>

#include "core/backoff.h"
#include "core/logging.h"

namespace inferd::kube {
namespace {

std::string ResourceVersionOf(const Json& obj) { return MetaField(obj, "resourceVersion"); }

}  // namespace

// ---- Store ----------------------------------------------------------------------------------------------

std::optional<Json> Store::Get(const std::string& key) const {
  MutexLock lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

std::vector<Json> Store::List() const {
  MutexLock lock(mu_);
  std::vector<Json> out;
  out.reserve(objects_.size());
  for (const auto& [key, obj] : objects_) out.push_back(obj);
  return out;
}

std::vector<std::string> Store::Keys() const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [key, obj] : objects_) out.push_back(key);
  return out;
}

size_t Store::Size() const {
  MutexLock lock(mu_);
  return objects_.size();
}

std::optional<Json> Store::Upsert(const std::string& key, Json object) {
  MutexLock lock(mu_);
  auto [it, inserted] = objects_.try_emplace(key);
  std::optional<Json> previous;
  if (!inserted) previous = std::move(it->second);
  it->second = std::move(object);
  return previous;
}

std::optional<Json> Store::Erase(const std::string& key) {
  MutexLock lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  std::optional<Json> previous = std::move(it->second);
  objects_.erase(it);
  return previous;
}

// ---- handlers -------------------------------------------------------------------------------------------

EventHandlers EnqueueHandlers(WorkQueue& queue) {
  EventHandlers h;
  h.on_add = [&queue](const Json& obj) { queue.Add(ObjectKey(obj)); };
  h.on_update = [&queue](const Json&, const Json& obj) { queue.Add(ObjectKey(obj)); };
  h.on_delete = [&queue](const Json& obj) { queue.Add(ObjectKey(obj)); };
  return h;
}

std::optional<std::string> ControllerOwnerKey(const Json& obj, std::string_view api_version, std::string_view kind) {
  auto m = obj.find("metadata");
  if (m == obj.end() || !m->is_object()) return std::nullopt;
  auto refs = m->find("ownerReferences");
  if (refs == m->end() || !refs->is_array()) return std::nullopt;
  for (const Json& ref : *refs) {
    if (!ref.is_object() || !ref.contains("controller") || ref["controller"] != true) continue;
    if (StringField(ref, "apiVersion") != api_version || StringField(ref, "kind") != kind) return std::nullopt;
    const std::string name = StringField(ref, "name");
    if (name.empty()) return std::nullopt;
    const std::string ns = MetaField(obj, "namespace");  // an owner is in its dependent's namespace
    return ns.empty() ? name : ns + "/" + name;
  }
  return std::nullopt;
}

EventHandlers EnqueueOwnerHandlers(WorkQueue& queue, std::string owner_api_version, std::string owner_kind) {
  auto enqueue = [&queue, api = std::move(owner_api_version), kind = std::move(owner_kind)](const Json& obj) {
    if (auto key = ControllerOwnerKey(obj, api, kind)) queue.Add(*key);
  };
  EventHandlers h;
  h.on_add = enqueue;
  h.on_update = [enqueue](const Json& old_obj, const Json& obj) {
    enqueue(old_obj);  // the owner it had (when the reference changed) and the one it has
    enqueue(obj);
  };
  h.on_delete = enqueue;
  return h;
}

// ---- Reflector ------------------------------------------------------------------------------------------

Reflector::Reflector(KubeClient& client, ReflectorOptions options, Store& store, EventHandlers handlers)
    : client_(client), options_(std::move(options)), store_(store), handlers_(std::move(handlers)) {}

Reflector::~Reflector() { Stop(); }

std::string Reflector::LastResourceVersion() const {
  MutexLock lock(mu_);
  return last_rv_;
}

Reflector::Counters Reflector::counters() const {
  MutexLock lock(mu_);
  return counters_;
}

ApiStatus Reflector::ListAndReplace() {
  ListOptions lo;
  lo.label_selector = options_.label_selector;
  lo.field_selector = options_.field_selector;
  lo.limit = options_.page_size;
  Result<Json> list = client_.ListAll(options_.gvr, options_.ns, lo);
  {
    MutexLock lock(mu_);
    ++counters_.lists;
  }
  if (!list.ok()) return list.status();
  std::set<std::string> seen;
  const Json& items = (*list)["items"];
  for (const Json& item : items) {
    if (!item.is_object()) continue;
    std::string key = ObjectKey(item);
    seen.insert(key);
    std::optional<Json> old = store_.Upsert(key, item);
    if (!old) {
      if (handlers_.on_add) handlers_.on_add(item);
    } else if (handlers_.on_update) {
      handlers_.on_update(*old, item);  // a relist is also a resync: every live object is seen again
    }
  }
  for (const std::string& key : store_.Keys()) {
    if (seen.count(key)) continue;
    std::optional<Json> gone = store_.Erase(key);
    if (gone && handlers_.on_delete) handlers_.on_delete(*gone);
  }
  {
    MutexLock lock(mu_);
    last_rv_ = ResourceVersionOf(*list);
  }
  synced_ = true;
  return ApiStatus::Ok();
}

bool Reflector::Apply(WatchEvent& ev) {
  if (ev.type == "ERROR") {
    MutexLock lock(mu_);
    last_error_ = StatusFromEvent(ev);
    return false;
  }
  const std::string rv = ResourceVersionOf(ev.object);
  if (ev.type != "BOOKMARK") {
    const std::string key = ObjectKey(ev.object);
    if (ev.type == "DELETED") {
      std::optional<Json> old = store_.Erase(key);
      if (handlers_.on_delete) handlers_.on_delete(old ? *old : ev.object);
    } else {
      std::optional<Json> old = store_.Upsert(key, ev.object);
      if (!old) {
        if (handlers_.on_add) handlers_.on_add(ev.object);
      } else if (handlers_.on_update) {
        handlers_.on_update(*old, ev.object);
      }
    }
  }
  MutexLock lock(mu_);
  if (!rv.empty()) last_rv_ = rv;
  ++counters_.events;
  return true;
}

Reflector::WatchEnd Reflector::WatchOnce() {
  WatchOptions wo;
  wo.label_selector = options_.label_selector;
  wo.field_selector = options_.field_selector;
  wo.resource_version = LastResourceVersion();
  wo.timeout_seconds = options_.watch_timeout_s;
  wo.cancel = &stop_;
  {
    MutexLock lock(mu_);
    ++counters_.watches;
    last_error_ = ApiStatus::Ok();
  }
  const auto started = std::chrono::steady_clock::now();
  int events = 0;
  bool error_event = false;
  ApiStatus st = client_.Watch(options_.gvr, options_.ns, wo, [&](WatchEvent&& ev) {
    if (!Apply(ev)) {
      error_event = true;
      return false;
    }
    ++events;
    return true;
  });
  if (stop_) return WatchEnd::kStopped;
  if (error_event) {
    MutexLock lock(mu_);
    st = last_error_;
  }
  if (!st.ok()) {
    if (st.IsExpired()) return WatchEnd::kExpired;
    LOG_WARN("kube reflector {}: watch failed: {}", options_.gvr.plural, st.ToString());
    return WatchEnd::kError;
  }
  if (events == 0 && std::chrono::steady_clock::now() - started < options_.min_watch_duration) {
    LOG_WARN("kube reflector {}: watch closed at once without events", options_.gvr.plural);
    return WatchEnd::kError;
  }
  return WatchEnd::kClosed;
}

void Reflector::Backoff(int failures) {
  const auto delay = ExponentialBackoff(failures, options_.initial_backoff, options_.max_backoff);
  MutexLock lock(mu_);
  cv_.WaitFor(mu_, delay, [this] { return stop_.load(); });
}

void Reflector::Run() {
  int failures = 0;
  bool need_list = true;
  while (!stop_) {
    if (need_list) {
      ApiStatus st = ListAndReplace();
      if (!st.ok()) {
        {
          MutexLock lock(mu_);
          ++counters_.errors;
        }
        LOG_WARN("kube reflector {}: list failed: {}", options_.gvr.plural, st.ToString());
        Backoff(failures++);
        continue;
      }
      need_list = false;
    }
    const uint64_t events_before = counters().events;
    switch (WatchOnce()) {
      case WatchEnd::kStopped: return;
      case WatchEnd::kClosed:
        if (counters().events > events_before) failures = 0;
        break;  // re-watch from the last resourceVersion
      case WatchEnd::kExpired: {
        MutexLock lock(mu_);
        ++counters_.relists_on_expired;
        need_list = true;
        break;
      }
      case WatchEnd::kError: {
        {
          MutexLock lock(mu_);
          ++counters_.errors;
        }
        if (counters().events > events_before) failures = 0;
        need_list = true;
        Backoff(failures++);
        break;
      }
    }
  }
}

void Reflector::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Reflector::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace inferd::kube
