// store/sqlite_store.cc: the SQLite implementation of Store (see store.h for the contract).
//
// Layout: table `objects` keyed by (resource, namespace, name) where `resource` is "<plural>.<group>"
// ("inferenceservices.serving.kserve.io", "events" for the core group) and `namespace` is "" for
// cluster-scoped types; `json` is the whole object as written (metadata included) and `resource_version`
// its decimal counter value. Table `meta` holds the store-wide counter under key "resource_version".
// One mutex serializes SQLite and the watch fan-out; every write appends to an in-memory history of the
// last kWatchQueueLimit events so that WatchFrom(since_rv) can replay what a client missed.
// Table `quarantine` keeps the rows the store could not use (store.h, "Unusable rows"): the row's key, text
// and resource_version, the reason and when; `id` orders them. Rows are only ever read through DecodeRow.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <deque>
#include <string_view>

#include "core/clock.h"
#include "core/json_depth.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "core/uuid.h"
#include "store/store.h"

namespace inferd::store {

namespace {

constexpr const char* kConflictMessage =
    "the object has been modified; please apply your changes to the latest version and try again";

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Reads a resourceVersion given as a string (or, leniently, a number). nullopt when absent/empty.
std::optional<std::string> RvOf(const Json& obj) {
  if (!obj.is_object()) return std::nullopt;
  auto m = obj.find("metadata");
  if (m == obj.end() || !m->is_object()) return std::nullopt;
  auto rv = m->find("resourceVersion");
  if (rv == m->end() || rv->is_null()) return std::nullopt;
  if (rv->is_string()) {
    auto s = rv->get<std::string>();
    if (s.empty()) return std::nullopt;
    return s;
  }
  if (rv->is_number_integer()) return std::to_string(rv->get<int64_t>());
  return Dump(*rv);
}

bool ParseRv(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

const std::string* StringField(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

// A stored row's text as an object of `type` stored under (ns, name), or why it cannot be one (the
// quarantine reason). Checks what the store promises its readers, nothing of the spec.
StatusOr<Json> DecodeRow(const ResourceType& type, const std::string& ns, const std::string& name,
                         const std::string& text) {
  ASSIGN_OR_RETURN(Json obj, ParseBoundedJson(text, "the stored text"));
  if (!obj.is_object()) return InvalidArgument("the stored text is not a JSON object");
  const std::string* api = StringField(obj, "apiVersion");
  const std::string* kind = StringField(obj, "kind");
  if (!api || !kind || *api != type.api_version || *kind != type.kind) {
    return InvalidArgument("apiVersion/kind are not " + type.api_version + "/" + type.kind +
                           ", the type it is stored under");
  }
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) return InvalidArgument("metadata is missing or not an object");
  const std::string* n = StringField(*md, "name");
  if (!n || *n != name) return InvalidArgument("metadata.name is not \"" + name + "\", the name it is stored under");
  if (type.namespaced) {
    const std::string* mns = StringField(*md, "namespace");
    if (ns.empty() || !mns || *mns != ns) {
      return InvalidArgument("metadata.namespace is not \"" + ns + "\", the namespace it is stored under");
    }
  } else if (!ns.empty() || (md->contains("namespace") && !md->at("namespace").is_null())) {
    return InvalidArgument("a cluster-scoped object stored with a namespace");
  }
  for (const char* f : {"uid", "creationTimestamp"}) {
    if (md->contains(f) && !md->at(f).is_string()) return InvalidArgument(std::string("metadata.") + f + " is not a string");
  }
  if (md->contains("generation") && !md->at("generation").is_number_integer()) {
    return InvalidArgument("metadata.generation is not an integer");
  }
  if (md->contains("resourceVersion") && !md->at("resourceVersion").is_string() &&
      !md->at("resourceVersion").is_number_integer()) {
    return InvalidArgument("metadata.resourceVersion is not a string");
  }
  return obj;
}

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK && stmt_ != nullptr; }
  Stmt& Bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int Step() { return sqlite3_step(stmt_); }
  std::string Text(int col) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(p, static_cast<size_t>(n)) : std::string();
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

struct HistoryEntry {
  int64_t rv;
  std::string key;  // ResourceKey
  std::string ns;
  WatchEvent event;
};

class SqliteStore;

class WatchImpl : public Watch {
 public:
  WatchImpl(std::string key, std::string ns, bool namespaced)
      : key_(std::move(key)), ns_(std::move(ns)), namespaced_(namespaced) {}

  std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) override {
    MutexLock lock(mu_);
    cv_.WaitFor(mu_, timeout, [&]() REQUIRES(mu_) { return !queue_.empty() || closed_ || expired_; });
    // An expired watch drops what it had queued: the consumer must re-list (Kubernetes closes the stream).
    if (closed_ || expired_ || queue_.empty()) return std::nullopt;
    WatchEvent e = std::move(queue_.front());
    queue_.pop_front();
    return e;
  }
  bool expired() const override {
    MutexLock lock(mu_);
    return expired_;
  }
  void Close() override {
    {
      MutexLock lock(mu_);
      closed_ = true;
      queue_.clear();
    }
    cv_.SignalAll();
  }

  bool Matches(const std::string& key, const std::string& ns) const {
    return key == key_ && (ns_.empty() || !namespaced_ || ns == ns_);
  }
  // Returns false when the watch is finished (closed or expired) and can be dropped.
  bool Push(const WatchEvent& e) {
    {
      MutexLock lock(mu_);
      if (closed_ || expired_) return false;
      if (queue_.size() >= kWatchQueueLimit) {
        expired_ = true;
        queue_.clear();
      } else {
        queue_.push_back(e);
      }
    }
    cv_.SignalAll();
    return true;
  }
  void Expire() {
    {
      MutexLock lock(mu_);
      expired_ = true;
      queue_.clear();
    }
    cv_.SignalAll();
  }
  bool done() const {
    MutexLock lock(mu_);
    return closed_ || expired_;
  }

 private:
  const std::string key_, ns_;
  const bool namespaced_;
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<WatchEvent> queue_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
  bool expired_ GUARDED_BY(mu_) = false;
};

// Hands out the shared watch state while the Store keeps a weak reference for the fan-out.
class WatchHandle : public Watch {
 public:
  explicit WatchHandle(std::shared_ptr<WatchImpl> impl) : impl_(std::move(impl)) {}
  ~WatchHandle() override { impl_->Close(); }
  std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) override { return impl_->Next(timeout); }
  bool expired() const override { return impl_->expired(); }
  void Close() override { impl_->Close(); }

 private:
  std::shared_ptr<WatchImpl> impl_;
};

class SqliteStore : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override {
    MutexLock lock(mu_);
    for (auto& w : watches_)
      if (auto s = w.lock()) s->Expire();
    watches_.clear();
    sqlite3_close(db_);
  }

  Status Init() {
    MutexLock lock(mu_);  // no other thread has the store yet: held for the analysis (rv_)
    RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
    RETURN_IF_ERROR(Exec("PRAGMA synchronous=NORMAL"));
    RETURN_IF_ERROR(Exec("PRAGMA busy_timeout=5000"));
    RETURN_IF_ERROR(
        Exec("CREATE TABLE IF NOT EXISTS objects ("
             " resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,"
             " json TEXT NOT NULL, resource_version INTEGER NOT NULL,"
             " PRIMARY KEY (resource, namespace, name))"));
    RETURN_IF_ERROR(Exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"));
    RETURN_IF_ERROR(
        Exec("CREATE TABLE IF NOT EXISTS quarantine ("
             " id INTEGER PRIMARY KEY AUTOINCREMENT, resource TEXT NOT NULL, namespace TEXT NOT NULL,"
             " name TEXT NOT NULL, json TEXT, resource_version INTEGER, reason TEXT NOT NULL,"
             " quarantined_at TEXT NOT NULL)"));
    Stmt q(db_, "SELECT value FROM meta WHERE key = 'resource_version'");
    if (!q.ok()) return DbError("read counter");
    int rc = q.Step();
    if (rc == SQLITE_ROW) {
      if (!ParseRv(q.Text(0), &rv_)) LOG_ERROR("store: the resource_version counter is not a number: recomputed");
    } else if (rc != SQLITE_DONE) {
      return DbError("read counter");
    }
    // The counter never goes below a stored row's version (a lost or damaged counter must not hand out a
    // resourceVersion twice).
    Stmt m(db_, "SELECT MAX(resource_version) FROM objects");
    if (!m.ok() || m.Step() != SQLITE_ROW) return DbError("read counter");
    rv_ = std::max(rv_, m.Int(0));
    return Status::Ok();
  }

  StatusOr<Json> Create(const ResourceType& type, Json obj) override {
    try {
      if (!obj.is_object()) return InvalidArgument("object must be a JSON object");
      FixHeader(type, obj);
      if (!obj.contains("metadata") || !obj["metadata"].is_object()) {
        if (obj.contains("metadata") && !obj["metadata"].is_null()) {
          return InvalidArgument("metadata: must be an object");
        }
        obj["metadata"] = Json::object();
      }
      Json& md = obj["metadata"];
      if (!md.contains("name") || !md["name"].is_string() || md["name"].get<std::string>().empty()) {
        return InvalidArgument("metadata.name: Required value: name is required");
      }
      std::string name = md["name"].get<std::string>();
      std::string ns;
      if (type.namespaced) {
        if (md.contains("namespace") && md["namespace"].is_string() &&
            !md["namespace"].get<std::string>().empty()) {
          ns = md["namespace"].get<std::string>();
        } else if (md.contains("namespace") && !md["namespace"].is_null() && !md["namespace"].is_string()) {
          return InvalidArgument("metadata.namespace: must be a string");
        } else {
          ns = "default";
        }
        md["namespace"] = ns;
      } else {
        md.erase("namespace");
      }
      std::string key = ResourceKey(type);
      RETURN_IF_ERROR(CheckJsonTreeDepth(obj, "object"));

      MutexLock lock(mu_);
      {
        Stmt q(db_, "SELECT 1 FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3");
        if (!q.ok()) return DbError("create");
        q.Bind(1, key).Bind(2, ns).Bind(3, name);
        int rc = q.Step();
        if (rc == SQLITE_ROW) return AlreadyExists(key + " \"" + name + "\" already exists");
        if (rc != SQLITE_DONE) return DbError("create");
      }
      int64_t rv = rv_ + 1;
      md["uid"] = NewUuid();
      md["resourceVersion"] = std::to_string(rv);
      md["generation"] = 1;
      md["creationTimestamp"] = NowRfc3339();
      md.erase("deletionTimestamp");
      RETURN_IF_ERROR(WriteRow(key, ns, name, &obj, rv, /*remove=*/false));
      Publish(rv, key, ns, "ADDED", obj);
      return obj;
    } catch (const std::exception& e) {
      return Internal(std::string("store: create: ") + e.what());
    }
  }

  StatusOr<Json> Get(const ResourceType& type, const std::string& ns, const std::string& name) override {
    try {
      MutexLock lock(mu_);
      return Load(type, ns, name);
    } catch (const std::exception& e) {
      return Internal(std::string("store: get: ") + e.what());
    }
  }

  StatusOr<ObjectList> List(const ResourceType& type, const std::string& ns) override {
    try {
      std::string key = ResourceKey(type);
      MutexLock lock(mu_);
      bool all = ns.empty() || !type.namespaced;
      ObjectList out;
      std::vector<Row> bad;
      {
        Stmt q(db_, all ? "SELECT namespace, name, json, resource_version FROM objects WHERE resource = ?1 "
                          "ORDER BY namespace, name"
                        : "SELECT namespace, name, json, resource_version FROM objects WHERE resource = ?1 "
                          "AND namespace = ?2 ORDER BY name");
        if (!q.ok()) return DbError("list");
        q.Bind(1, key);
        if (!all) q.Bind(2, ns);
        int rc;
        while ((rc = q.Step()) == SQLITE_ROW) {
          Row row{key, q.Text(0), q.Text(1), q.Text(2), q.Int(3), ""};
          auto obj = DecodeRow(type, row.ns, row.name, row.text);
          if (obj.ok()) {
            out.items.push_back(std::move(*obj));
          } else {
            row.reason = obj.status().message();
            bad.push_back(std::move(row));
          }
        }
        if (rc != SQLITE_DONE) return DbError("list");
      }
      for (const Row& row : bad) (void)Quarantine(row, NowRfc3339());  // after the SELECT is finished
      out.resource_version = std::to_string(rv_);
      return out;
    } catch (const std::exception& e) {
      return Internal(std::string("store: list: ") + e.what());
    }
  }

  StatusOr<Json> Update(const ResourceType& type, Json obj) override { return Write(type, std::move(obj), false); }
  StatusOr<Json> UpdateStatus(const ResourceType& type, Json obj) override {
    return Write(type, std::move(obj), true);
  }

  StatusOr<Json> Delete(const ResourceType& type, const std::string& ns, const std::string& name,
                        const std::string& precondition_rv) override {
    try {
      std::string key = ResourceKey(type);
      std::string nsk = type.namespaced ? ns : "";
      MutexLock lock(mu_);
      ASSIGN_OR_RETURN(Json cur, Load(type, ns, name));
      if (!precondition_rv.empty() && RvOf(cur).value_or("") != precondition_rv) {
        return Conflict(OperationMessage(key, name));
      }
      int64_t rv = rv_ + 1;
      cur["metadata"]["resourceVersion"] = std::to_string(rv);
      RETURN_IF_ERROR(WriteRow(key, nsk, name, &cur, rv, /*remove=*/true));
      Publish(rv, key, nsk, "DELETED", cur);
      return cur;
    } catch (const std::exception& e) {
      return Internal(std::string("store: delete: ") + e.what());
    }
  }

  StatusOr<std::unique_ptr<Watch>> WatchFrom(const ResourceType& type, const std::string& ns,
                                             const std::string& since_rv) override {
    try {
      std::string key = ResourceKey(type);
      MutexLock lock(mu_);
      int64_t since = rv_;
      if (!since_rv.empty() && since_rv != "0") {
        if (!ParseRv(since_rv, &since)) {
          return InvalidArgument("resourceVersion: invalid value '" + since_rv + "': must be a decimal number");
        }
      }
      auto w = std::make_shared<WatchImpl>(key, type.namespaced ? ns : "", type.namespaced);
      if (since < rv_) {
        // Need every event with rv in (since, rv_]: the history must reach back to since + 1.
        int64_t oldest = history_.empty() ? rv_ + 1 : history_.front().rv;
        if (since + 1 < oldest) {
          return Status(StatusCode::kInvalidArgument,
                        "too old resource version: " + since_rv + " (" + std::to_string(oldest - 1) + ")");
        }
        for (const auto& h : history_) {
          if (h.rv <= since || !w->Matches(h.key, h.ns)) continue;
          w->Push(h.event);
        }
      }
      watches_.push_back(w);
      return std::unique_ptr<Watch>(std::make_unique<WatchHandle>(std::move(w)));
    } catch (const std::exception& e) {
      return Internal(std::string("store: watch: ") + e.what());
    }
  }

  StatusOr<std::vector<QuarantinedRow>> QuarantineUnusable(const std::vector<ResourceType>& types) override {
    try {
      MutexLock lock(mu_);
      std::vector<Row> bad;
      {
        Stmt q(db_, "SELECT resource, namespace, name, json, resource_version FROM objects ORDER BY rowid");
        if (!q.ok()) return DbError("check");
        int rc;
        while ((rc = q.Step()) == SQLITE_ROW) {
          Row row{q.Text(0), q.Text(1), q.Text(2), q.Text(3), q.Int(4), ""};
          auto type = std::find_if(types.begin(), types.end(), [&](const ResourceType& t) { return ResourceKey(t) == row.key; });
          if (type == types.end()) {
            row.reason = "no resource type \"" + row.key + "\" is served";
          } else if (auto obj = DecodeRow(*type, row.ns, row.name, row.text); !obj.ok()) {
            row.reason = obj.status().message();
          } else {
            continue;
          }
          bad.push_back(std::move(row));
        }
        if (rc != SQLITE_DONE) return DbError("check");
      }
      std::vector<QuarantinedRow> out;
      for (const Row& row : bad) {
        const std::string at = NowRfc3339();
        RETURN_IF_ERROR(Quarantine(row, at));
        out.push_back({row.key, row.ns, row.name, row.reason, at, row.text.size()});
      }
      return out;
    } catch (const std::exception& e) {
      return Internal(std::string("store: check: ") + e.what());
    }
  }

  StatusOr<std::vector<QuarantinedRow>> Quarantined() override {
    try {
      MutexLock lock(mu_);
      Stmt q(db_,
             "SELECT resource, namespace, name, reason, quarantined_at, length(CAST(json AS BLOB)) FROM quarantine "
             "ORDER BY id");
      if (!q.ok()) return DbError("quarantine");
      std::vector<QuarantinedRow> out;
      int rc;
      while ((rc = q.Step()) == SQLITE_ROW) {
        out.push_back({q.Text(0), q.Text(1), q.Text(2), q.Text(3), q.Text(4), static_cast<size_t>(q.Int(5))});
      }
      if (rc != SQLITE_DONE) return DbError("quarantine");
      return out;
    } catch (const std::exception& e) {
      return Internal(std::string("store: quarantine: ") + e.what());
    }
  }

 private:
  static std::string OperationMessage(const std::string& key, const std::string& name) {
    return "Operation cannot be fulfilled on " + key + " \"" + name + "\": " + kConflictMessage;
  }

  static void FixHeader(const ResourceType& type, Json& obj) {
    // apiVersion and kind first, as Kubernetes writes them, keeping the rest in the caller's order.
    Json out = Json::object();
    out["apiVersion"] = type.api_version;
    out["kind"] = type.kind;
    for (auto& [k, v] : obj.items()) {
      if (k == "apiVersion" || k == "kind") continue;
      out[k] = std::move(v);
    }
    obj = std::move(out);
  }

  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "unknown error";
      sqlite3_free(err);
      return Internal(std::string("store: ") + sql + ": " + m);
    }
    return Status::Ok();
  }

  Status DbError(const char* what) { return Internal(std::string("store: ") + what + ": " + sqlite3_errmsg(db_)); }

  // A row as stored (for DecodeRow and the quarantine).
  struct Row {
    std::string key, ns, name, text;
    int64_t rv = 0;
    std::string reason;  // why it is unusable ("" = not known to be)
  };

  // Caller holds mu_. A row that cannot be used is quarantined and reads as NotFound.
  StatusOr<Json> Load(const ResourceType& type, const std::string& ns, const std::string& name) {
    Row row{ResourceKey(type), type.namespaced ? ns : std::string(), name, "", 0, ""};
    {
      Stmt q(db_, "SELECT json, resource_version FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3");
      if (!q.ok()) return DbError("get");
      q.Bind(1, row.key).Bind(2, row.ns).Bind(3, name);
      int rc = q.Step();
      if (rc == SQLITE_DONE) return NotFoundMessage(row.key, row.ns, name);
      if (rc != SQLITE_ROW) return DbError("get");
      row.text = q.Text(0);
      row.rv = q.Int(1);
    }
    auto obj = DecodeRow(type, row.ns, name, row.text);
    if (obj.ok()) return obj;
    row.reason = obj.status().message();
    RETURN_IF_ERROR(Quarantine(row, NowRfc3339()));
    return NotFoundMessage(row.key, row.ns, name);
  }

  // NotFound, saying so when a row of that name is in quarantine. Caller holds mu_.
  Status NotFoundMessage(const std::string& key, const std::string& ns, const std::string& name) {
    std::string m = key + " \"" + name + "\" not found";
    Stmt q(db_,
           "SELECT reason, quarantined_at FROM quarantine WHERE resource = ?1 AND namespace = ?2 AND name = ?3 "
           "ORDER BY id DESC LIMIT 1");
    if (q.ok() && q.Bind(1, key).Bind(2, ns).Bind(3, name).Step() == SQLITE_ROW) {
      m += " (its stored row was quarantined at " + q.Text(1) + ": " + q.Text(0) + ")";
    }
    return NotFound(std::move(m));
  }

  // Moves `row` to the quarantine table, in one transaction. Caller holds mu_.
  Status Quarantine(const Row& row, const std::string& at) {
    LOG_ERROR("store: quarantined {} \"{}/{}\" ({} bytes): {}; it is kept in the table quarantine of the database",
              row.key, row.ns, row.name, row.text.size(), row.reason);
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    auto fail = [&](const char* what) {
      Status st = DbError(what);
      (void)Exec("ROLLBACK");
      LOG_ERROR("store: cannot quarantine {} \"{}/{}\": {}", row.key, row.ns, row.name, st.message());
      return st;
    };
    {
      Stmt w(db_,
             "INSERT INTO quarantine (resource, namespace, name, json, resource_version, reason, quarantined_at) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
      if (!w.ok()) return fail("quarantine");
      w.Bind(1, row.key).Bind(2, row.ns).Bind(3, row.name).Bind(4, row.text).Bind(5, row.rv).Bind(6, row.reason);
      w.Bind(7, at);
      if (w.Step() != SQLITE_DONE) return fail("quarantine");
      Stmt d(db_, "DELETE FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3");
      if (!d.ok()) return fail("quarantine");
      d.Bind(1, row.key).Bind(2, row.ns).Bind(3, row.name);
      if (d.Step() != SQLITE_DONE) return fail("quarantine");
    }
    Status st = Exec("COMMIT");
    if (!st.ok()) (void)Exec("ROLLBACK");
    return st;
  }

  // One transaction: the row (insert/replace or delete) and the counter. On success rv_ becomes `rv`.
  Status WriteRow(const std::string& key, const std::string& ns, const std::string& name, const Json* obj,
                  int64_t rv, bool remove) REQUIRES(mu_) {
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    auto fail = [&](const char* what) {
      Status st = DbError(what);
      (void)Exec("ROLLBACK");
      return st;
    };
    if (remove) {
      Stmt d(db_, "DELETE FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3");
      if (!d.ok()) return fail("delete");
      d.Bind(1, key).Bind(2, ns).Bind(3, name);
      if (d.Step() != SQLITE_DONE) return fail("delete");
    } else {
      Stmt w(db_,
             "INSERT OR REPLACE INTO objects (resource, namespace, name, json, resource_version) "
             "VALUES (?1, ?2, ?3, ?4, ?5)");
      if (!w.ok()) return fail("write");
      w.Bind(1, key).Bind(2, ns).Bind(3, name).Bind(4, Dump(*obj)).Bind(5, rv);
      if (w.Step() != SQLITE_DONE) return fail("write");
    }
    Stmt m(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES ('resource_version', ?1)");
    if (!m.ok()) return fail("counter");
    m.Bind(1, std::to_string(rv));
    if (m.Step() != SQLITE_DONE) return fail("counter");
    Status st = Exec("COMMIT");
    if (!st.ok()) {
      (void)Exec("ROLLBACK");
      return st;
    }
    rv_ = rv;
    return Status::Ok();
  }

  void Publish(int64_t rv, const std::string& key, const std::string& ns, const char* type, const Json& obj)
      REQUIRES(mu_) {
    HistoryEntry h{rv, key, ns, WatchEvent{type, obj}};
    auto it = watches_.begin();
    while (it != watches_.end()) {
      auto w = it->lock();
      bool keep = w != nullptr;
      if (keep && w->Matches(key, ns)) keep = w->Push(h.event);
      if (keep) keep = !w->done();
      it = keep ? std::next(it) : watches_.erase(it);
    }
    history_.push_back(std::move(h));
    while (history_.size() > kWatchQueueLimit) history_.pop_front();
  }

  StatusOr<Json> Write(const ResourceType& type, Json obj, bool status_only) {
    try {
      if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) {
        return InvalidArgument("metadata.name: Required value: name is required");
      }
      const Json& inmd = obj["metadata"];
      if (!inmd.contains("name") || !inmd["name"].is_string() || inmd["name"].get<std::string>().empty()) {
        return InvalidArgument("metadata.name: Required value: name is required");
      }
      std::string name = inmd["name"].get<std::string>();
      std::string ns;
      if (type.namespaced) {
        ns = inmd.contains("namespace") && inmd["namespace"].is_string() ? inmd["namespace"].get<std::string>()
                                                                           : "";
        if (ns.empty()) ns = "default";
      }
      std::string key = ResourceKey(type);
      std::optional<std::string> want_rv = RvOf(obj);
      RETURN_IF_ERROR(CheckJsonTreeDepth(obj, "object"));

      MutexLock lock(mu_);
      ASSIGN_OR_RETURN(Json cur, Load(type, ns, name));
      if (want_rv && *want_rv != RvOf(cur).value_or("")) return Conflict(OperationMessage(key, name));
      int64_t rv = rv_ + 1;
      Json next;
      if (status_only) {
        next = cur;
        if (obj.contains("status")) {
          next["status"] = obj["status"];
        } else {
          next.erase("status");
        }
      } else {
        // Everything but metadata and status comes from the caller; metadata keeps the store-owned fields.
        static const char* kOwned[] = {"name", "namespace", "uid", "resourceVersion", "generation",
                                       "creationTimestamp", "deletionTimestamp"};
        next = Json::object();
        for (auto& [k, v] : obj.items()) {
          if (k == "status") continue;
          next[k] = v;
        }
        Json md = Json::object();
        const Json& curmd = cur["metadata"];
        for (const char* f : kOwned) {
          if (curmd.contains(f)) md[f] = curmd[f];
        }
        for (auto& [k, v] : inmd.items()) {
          if (std::find_if(std::begin(kOwned), std::end(kOwned), [&k = k](const char* f) { return k == f; }) ==
              std::end(kOwned)) {
            md[k] = v;
          }
        }
        next["metadata"] = std::move(md);
        if (cur.contains("status")) next["status"] = cur["status"];
        FixHeader(type, next);
        // generation follows the desired state: everything but metadata and status.
        auto desired = [](const Json& o) {
          Json d = Json::object();
          for (auto& [k, v] : o.items()) {
            if (k == "metadata" || k == "status" || k == "apiVersion" || k == "kind") continue;
            d[k] = v;
          }
          return nlohmann::json(d);  // unordered: key order does not count as a change
        };
        if (desired(next) != desired(cur)) {
          int64_t gen = curmd.contains("generation") && curmd["generation"].is_number_integer()
                            ? curmd["generation"].get<int64_t>()
                            : 1;
          next["metadata"]["generation"] = gen + 1;
        }
      }
      next["metadata"]["resourceVersion"] = std::to_string(rv);
      RETURN_IF_ERROR(WriteRow(key, type.namespaced ? ns : "", name, &next, rv, /*remove=*/false));
      Publish(rv, key, type.namespaced ? ns : "", "MODIFIED", next);
      return next;
    } catch (const std::exception& e) {
      return Internal(std::string("store: update: ") + e.what());
    }
  }

  sqlite3* db_;  // used under mu_ once Init returned
  Mutex mu_;
  int64_t rv_ GUARDED_BY(mu_) = 0;
  std::deque<HistoryEntry> history_ GUARDED_BY(mu_);
  std::vector<std::weak_ptr<WatchImpl>> watches_ GUARDED_BY(mu_);
};

}  // namespace

std::string ResourceKey(const ResourceType& type) {
  auto slash = type.api_version.rfind('/');
  if (slash == std::string::npos) return type.plural;  // core group ("v1")
  return type.plural + "." + type.api_version.substr(0, slash);
}

StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string m = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Unavailable("store: cannot open '" + path + "': " + m);
  }
  auto store = std::make_unique<SqliteStore>(db);
  Status st = store->Init();
  if (!st.ok()) return st;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace inferd::store
