// api/patch.cc: JSON patch and field ownership (see patch.h for the contract).
#include "api/patch.h"

#include <algorithm>
#include <map>
#include <set>

namespace inferd::api {

// ---- JSON patch (RFC 6902) -----------------------------------------------------------------------------
namespace {

// RFC 6901: "" or "/"-separated tokens with ~0 and ~1 the only escapes.
bool WellFormedPointer(const std::string& p) {
  if (p.empty()) return true;
  if (p[0] != '/') return false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '~' && (i + 1 >= p.size() || (p[i + 1] != '0' && p[i + 1] != '1'))) return false;
  }
  return true;
}

Status CheckOperation(const Json& op, size_t i) {
  const std::string at = "operation " + std::to_string(i) + ": ";
  if (!op.is_object()) return InvalidArgument(at + "must be an object");
  auto str = [&](const char* k) -> const std::string* {
    auto it = op.find(k);
    return it != op.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  const std::string* name = str("op");
  if (!name) return InvalidArgument(at + "missing 'op' (add, remove, replace, move, copy or test)");
  static const std::set<std::string> kOps = {"add", "remove", "replace", "move", "copy", "test"};
  if (!kOps.count(*name)) return InvalidArgument(at + "unknown op \"" + *name + "\"");
  const std::string* path = str("path");
  if (!path) return InvalidArgument(at + "missing 'path'");
  if (!WellFormedPointer(*path)) return InvalidArgument(at + "path \"" + *path + "\" is not a JSON pointer");
  if ((*name == "add" || *name == "replace" || *name == "test") && !op.contains("value")) {
    return InvalidArgument(at + "missing 'value' for " + *name);
  }
  if (*name == "move" || *name == "copy") {
    const std::string* from = str("from");
    if (!from) return InvalidArgument(at + "missing 'from' for " + *name);
    if (!WellFormedPointer(*from)) return InvalidArgument(at + "from \"" + *from + "\" is not a JSON pointer");
    if (*name == "move" && path->size() > from->size() && path->compare(0, from->size(), *from) == 0 &&
        (*path)[from->size()] == '/') {
      return InvalidArgument(at + "cannot move \"" + *from + "\" into its own child");
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<Json> ApplyJsonPatch(Json doc, const Json& ops, bool* not_applicable) {
  if (not_applicable) *not_applicable = false;
  if (!ops.is_array()) return InvalidArgument("a JSON patch must be an array of operations");
  if (ops.size() > kMaxJsonPatchOps) {
    return PayloadTooLarge("the JSON patch has " + std::to_string(ops.size()) + " operations, more than the " +
                           std::to_string(kMaxJsonPatchOps) + " allowed");
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    Status st = CheckOperation(ops[i], i);
    if (!st.ok()) return st;
  }
  // nlohmann implements RFC 6902 (json::patch); the operations were checked above, so whatever it throws now
  // is an operation that does not apply to this document.
  try {
    return doc.patch(ops);
  } catch (const std::exception& e) {
    if (not_applicable) *not_applicable = true;
    return InvalidArgument(e.what());
  }
}

// ---- field sets ------------------------------------------------------------------------------------------
namespace {

using PathSet = std::set<FieldPath>;

bool IsPrefix(const FieldPath& a, const FieldPath& b) {  // a is a (non-strict) prefix of b
  return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
}
// The paths of `set` that overlap `p`: p itself or a prefix of it, and the paths below p (a set of paths is
// ordered so that the paths under p follow p directly). O(depth * log n), not a scan of the set.
std::vector<FieldPath> Overlapping(const PathSet& set, const FieldPath& p) {
  std::vector<FieldPath> out;
  FieldPath pre;
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    pre.push_back(p[i]);
    if (set.count(pre)) out.push_back(pre);
  }
  for (auto it = set.lower_bound(p); it != set.end() && IsPrefix(p, *it); ++it) out.push_back(*it);
  return out;
}
bool AnyOverlap(const PathSet& set, const FieldPath& p) {
  FieldPath pre;
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    pre.push_back(p[i]);
    if (set.count(pre)) return true;
  }
  auto it = set.lower_bound(p);
  return it != set.end() && IsPrefix(p, *it);
}
bool UnderAny(const PathSet& set, const FieldPath& p) {  // p or one of its prefixes is in the set
  FieldPath pre;
  for (const auto& k : p) {
    pre.push_back(k);
    if (set.count(pre)) return true;
  }
  return false;
}

bool ServerOwned(const FieldPath& p) {
  if (p.empty()) return false;
  if (p[0] == "apiVersion" || p[0] == "kind" || p[0] == "status") return true;
  if (p[0] == "metadata" && p.size() >= 2) {
    static const std::set<std::string> kOwned = {"name", "namespace", "uid", "resourceVersion", "generation",
                                                 "creationTimestamp", "deletionTimestamp", "managedFields",
                                                 "selfLink"};
    return kOwned.count(p[1]) > 0;
  }
  return false;
}

// `budget`: path elements left (kMaxFieldPathElements in all); false when the object has more.
bool CollectLeaves(const Json& v, FieldPath& prefix, PathSet* out, size_t* budget) {
  if (v.is_null()) return true;  // applied nulls are ignored
  if (v.is_object() && !v.empty()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      prefix.push_back(it.key());
      bool ok = ServerOwned(prefix) || CollectLeaves(it.value(), prefix, out, budget);
      prefix.pop_back();
      if (!ok) return false;
    }
    return true;
  }
  if (prefix.empty()) return true;
  if (*budget < prefix.size()) return false;
  *budget -= prefix.size();
  out->insert(prefix);
  return true;
}

Status TooManyFields() {
  return InvalidArgument("the object has more fields than field tracking allows (" +
                         std::to_string(kMaxFieldPathElements) + " path elements)");
}

StatusOr<PathSet> Leaves(const Json& obj) {
  PathSet out;
  FieldPath prefix;
  size_t budget = kMaxFieldPathElements;
  if (obj.is_object() && !CollectLeaves(obj, prefix, &out, &budget)) return TooManyFields();
  return out;
}

const Json* At(const Json& root, const FieldPath& p) {
  const Json* cur = &root;
  for (const auto& k : p) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(k);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

// Removes the field at `p`, then parents (below the top level) that it left empty and nobody owns.
void Erase(Json& root, FieldPath p, const std::vector<const PathSet*>& owners) {
  while (p.size() >= 1) {
    FieldPath parent(p.begin(), p.end() - 1);
    Json* obj = const_cast<Json*>(At(root, parent));
    if (!obj || !obj->is_object()) return;
    obj->erase(p.back());
    if (!obj->empty() || parent.size() < 2) return;
    for (const PathSet* s : owners)
      if (s->count(parent)) return;
    p = std::move(parent);
  }
}

void MergeInto(Json& dst, const Json& src, FieldPath& prefix) {
  if (!dst.is_object()) dst = Json::object();
  for (auto it = src.begin(); it != src.end(); ++it) {
    prefix.push_back(it.key());
    const Json& v = it.value();
    bool skip = v.is_null() || (ServerOwned(prefix) && !(prefix.size() == 2 && prefix[0] == "metadata" &&
                                                          (prefix[1] == "name" || prefix[1] == "namespace")));
    if (prefix.size() == 1 && (prefix[0] == "apiVersion" || prefix[0] == "kind")) skip = v.is_null();
    if (!skip) {
      if (v.is_object() && !v.empty()) {
        MergeInto(dst[it.key()], v, prefix);
      } else {
        dst[it.key()] = v;
      }
    }
    prefix.pop_back();
  }
}

// One metadata.managedFields entry; `paths` parsed from fieldsV1.
struct Entry {
  std::string manager, operation, api_version, time, subresource;
  PathSet paths;
  Json raw;  // entries this code does not rewrite (a subresource's) are kept as they were
};

bool FieldsV1Paths(const Json& node, FieldPath& prefix, std::vector<FieldPath>* out, size_t* budget);

// metadata.managedFields as entries; InvalidArgument when they exceed the bounds (kMaxManagedFieldsEntries,
// kMaxFieldPathElements in all), which RecordUpdate checks before anything client-written is stored.
StatusOr<std::vector<Entry>> ParseEntries(const Json& obj) {
  std::vector<Entry> out;
  const Json* mf = At(obj, {"metadata", "managedFields"});
  if (!mf) return out;
  if (!mf->is_array()) return InvalidArgument("metadata.managedFields: Invalid value: must be a list");
  if (mf->size() > kMaxManagedFieldsEntries) {
    return InvalidArgument("metadata.managedFields: Too many: " + std::to_string(mf->size()) + ": must have at most " +
                           std::to_string(kMaxManagedFieldsEntries) + " items");
  }
  size_t budget = kMaxFieldPathElements;
  for (const auto& e : *mf) {
    if (!e.is_object()) return InvalidArgument("metadata.managedFields: Invalid value: entries must be objects");
    Entry x;
    auto s = [&](const char* k) { return e.contains(k) && e[k].is_string() ? e[k].get<std::string>() : ""; };
    x.manager = s("manager");
    x.operation = s("operation");
    x.api_version = s("apiVersion");
    x.time = s("time");
    x.subresource = s("subresource");
    if (e.contains("fieldsV1") && e["fieldsV1"].is_object()) {
      FieldPath prefix;
      std::vector<FieldPath> paths;
      if (!FieldsV1Paths(e["fieldsV1"], prefix, &paths, &budget)) return TooManyFields();
      x.paths.insert(paths.begin(), paths.end());
    }
    x.raw = e;
    out.push_back(std::move(x));
  }
  return out;
}

Json EntryJson(const Entry& e) {
  if (!e.subresource.empty()) return e.raw;
  Json j = Json::object();
  j["manager"] = e.manager;
  j["operation"] = e.operation;
  j["apiVersion"] = e.api_version;
  j["time"] = e.time;
  j["fieldsType"] = "FieldsV1";
  j["fieldsV1"] = ToFieldsV1(std::vector<FieldPath>(e.paths.begin(), e.paths.end()));
  return j;
}

void StoreEntries(Json& obj, std::vector<Entry>& entries) {
  Json arr = Json::array();
  for (const auto& e : entries)
    if (!e.paths.empty() || !e.subresource.empty()) arr.push_back(EntryJson(e));
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
  if (arr.empty()) {
    obj["metadata"].erase("managedFields");
  } else {
    obj["metadata"]["managedFields"] = std::move(arr);
  }
}

Entry* FindEntry(std::vector<Entry>& entries, const std::string& manager, const std::string& operation) {
  for (auto& e : entries)
    if (e.subresource.empty() && e.manager == manager && e.operation == operation) return &e;
  return nullptr;
}

bool FieldsV1Paths(const Json& node, FieldPath& prefix, std::vector<FieldPath>* out, size_t* budget) {
  bool leaf = node.empty() || node.contains(".");
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string& k = it.key();
    if (k.size() >= 2 && k.compare(0, 2, "f:") == 0 && it.value().is_object()) {  // "f:" alone: the key ""
      prefix.push_back(k.substr(2));
      bool ok = FieldsV1Paths(it.value(), prefix, out, budget);
      prefix.pop_back();
      if (!ok) return false;
    } else if (k.compare(0, 2, "k:") == 0 || k.compare(0, 2, "v:") == 0 || k.compare(0, 2, "i:") == 0) {
      leaf = true;  // a list element: lists are atomic here
    }
  }
  if (leaf && !prefix.empty()) {
    if (*budget < prefix.size()) return false;
    *budget -= prefix.size();
    out->push_back(prefix);
  }
  return true;
}

}  // namespace

std::vector<FieldPath> OwnedLeaves(const Json& obj) {
  auto s = Leaves(obj);
  if (!s.ok()) return {};
  return {s->begin(), s->end()};
}

Json ToFieldsV1(const std::vector<FieldPath>& paths) {
  Json root = Json::object();
  for (const auto& p : paths) {
    Json* cur = &root;
    for (const auto& k : p) cur = &(*cur)["f:" + k];
    if (cur->is_null()) *cur = Json::object();
  }
  // A node that is a leaf and also has children carries ".".
  for (const auto& p : paths) {
    Json* cur = &root;
    for (const auto& k : p) cur = &(*cur)["f:" + k];
    if (!cur->empty() && !cur->contains(".")) (*cur)["."] = Json::object();
  }
  return root;
}

std::vector<FieldPath> FromFieldsV1(const Json& fields) {
  std::vector<FieldPath> out;
  if (!fields.is_object()) return out;
  FieldPath prefix;
  size_t budget = kMaxFieldPathElements;
  FieldsV1Paths(fields, prefix, &out, &budget);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string FieldPathString(const FieldPath& p) {
  std::string s;
  for (const auto& k : p) s += "." + k;
  return s;
}

ApplyResult ServerSideApply(const Json& live, const Json& applied, const std::string& manager, bool force,
                            const std::string& api_version, const std::string& now) {
  ApplyResult res;
  const Json base = live.is_object() ? live : Json::object();
  auto parsed = ParseEntries(base);
  auto leaves = Leaves(applied);
  if (!parsed.ok() || !leaves.ok()) {
    res.error = parsed.ok() ? leaves.status() : parsed.status();
    return res;
  }
  std::vector<Entry> entries = std::move(*parsed);
  const PathSet next_set = std::move(*leaves);
  PathSet prev_set;
  if (Entry* mine = FindEntry(entries, manager, "Apply")) prev_set = mine->paths;
  auto is_mine = [&](const Entry& e) { return e.manager == manager && e.operation == "Apply"; };

  // Conflicts: a field this apply changes that another manager owns.
  std::set<std::pair<size_t, FieldPath>> seen;
  for (const auto& p : next_set) {
    const Json* lv = At(base, p);
    if (!lv || *lv == *At(applied, p)) continue;
    for (size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      if (is_mine(e) || !e.subresource.empty()) continue;
      for (auto& q : Overlapping(e.paths, p)) {
        if (seen.insert({i, q}).second) res.conflicts.push_back({e.manager, e.api_version, std::move(q)});
      }
    }
  }
  if (!res.conflicts.empty() && !force) {
    res.object = live;
    return res;
  }
  for (const auto& c : res.conflicts) {  // forced: the fields change hands
    for (auto& e : entries)
      if (!is_mine(e) && e.manager == c.manager && e.subresource.empty()) e.paths.erase(c.field);
  }
  res.conflicts.clear();

  Json obj = base;
  // Fields this manager stops applying go away unless someone else owns them.
  std::vector<const PathSet*> owners;
  for (const auto& e : entries)
    if (!is_mine(e)) owners.push_back(&e.paths);
  owners.push_back(&next_set);
  for (const auto& p : prev_set) {
    if (AnyOverlap(next_set, p)) continue;
    bool owned = false;
    for (const auto& e : entries)
      if (!is_mine(e) && AnyOverlap(e.paths, p)) owned = true;
    if (!owned) Erase(obj, p, owners);
  }
  FieldPath prefix;
  if (applied.is_object()) MergeInto(obj, applied, prefix);

  Entry* mine = FindEntry(entries, manager, "Apply");
  if (!mine) {
    entries.push_back(Entry{manager, "Apply", api_version, now, "", {}, Json()});
    mine = &entries.back();
  }
  mine->paths = next_set;
  mine->api_version = api_version;
  mine->time = now;
  StoreEntries(obj, entries);
  res.object = std::move(obj);
  return res;
}

StatusOr<Json> RecordUpdate(const Json& old_obj, Json next, const std::string& manager,
                            const std::string& api_version, const std::string& now) {
  const Json* old_mf = At(old_obj, {"metadata", "managedFields"});
  const Json* new_mf = At(next, {"metadata", "managedFields"});
  if (new_mf && (!old_mf || *new_mf != *old_mf)) {  // the client wrote managedFields itself: kept if usable
    RETURN_IF_ERROR(ParseEntries(next).status());
    return next;
  }
  if (!next.contains("metadata") || !next["metadata"].is_object()) return next;
  if (old_mf) next["metadata"]["managedFields"] = *old_mf;

  ASSIGN_OR_RETURN(PathSet next_leaves, Leaves(next));
  ASSIGN_OR_RETURN(PathSet old_leaves, Leaves(old_obj));
  PathSet changed, removed;
  for (const auto& p : next_leaves) {
    const Json* ov = At(old_obj, p);
    if (!ov || *ov != *At(next, p)) changed.insert(p);
  }
  for (const auto& p : old_leaves) {
    if (!At(next, p)) removed.insert(p);
  }
  if (changed.empty() && removed.empty()) return next;

  ASSIGN_OR_RETURN(std::vector<Entry> entries, ParseEntries(old_obj.is_object() ? old_obj : Json::object()));
  for (auto& e : entries) {
    if (!e.subresource.empty()) continue;
    for (auto it = e.paths.begin(); it != e.paths.end();) {
      bool drop = AnyOverlap(changed, *it) || UnderAny(removed, *it);
      it = drop ? e.paths.erase(it) : std::next(it);
    }
  }
  if (!changed.empty()) {
    Entry* mine = FindEntry(entries, manager, "Update");
    if (!mine) {
      entries.push_back(Entry{manager, "Update", api_version, now, "", {}, Json()});
      mine = &entries.back();
    }
    mine->paths.insert(changed.begin(), changed.end());
    mine->api_version = api_version;
    mine->time = now;
  }
  StoreEntries(next, entries);
  return next;
}

namespace {
// Keys of `original` that `modified` dropped, as nulls (recursing where both are objects).
Json Deletions(const Json& original, const Json& modified) {
  Json out = Json::object();
  for (auto it = original.begin(); it != original.end(); ++it) {
    auto m = modified.find(it.key());
    if (m == modified.end()) {
      out[it.key()] = nullptr;
    } else if (it->is_object() && m->is_object()) {
      Json sub = Deletions(*it, *m);
      if (!sub.empty()) out[it.key()] = std::move(sub);
    }
  }
  return out;
}
// Values of `modified` that `current` lacks or holds differently (recursing where both are objects).
Json Changes(const Json& current, const Json& modified) {
  Json out = Json::object();
  for (auto it = modified.begin(); it != modified.end(); ++it) {
    if (it->is_null()) continue;  // kubectl prunes nulls from the file
    auto c = current.find(it.key());
    if (c == current.end()) {
      out[it.key()] = *it;
    } else if (it->is_object() && c->is_object()) {
      Json sub = Changes(*c, *it);
      if (!sub.empty()) out[it.key()] = std::move(sub);
    } else if (*c != *it) {
      out[it.key()] = *it;
    }
  }
  return out;
}
void MergeObjects(Json& dst, const Json& src) {
  for (auto it = src.begin(); it != src.end(); ++it) {
    auto d = dst.find(it.key());
    if (d != dst.end() && d->is_object() && it->is_object()) {
      MergeObjects(*d, *it);
    } else {
      dst[it.key()] = *it;
    }
  }
}
}  // namespace

Json ThreeWayMergePatch(const Json& original, const Json& modified, const Json& current) {
  if (!modified.is_object()) return Json::object();
  Json patch = original.is_object() ? Deletions(original, modified) : Json::object();
  MergeObjects(patch, Changes(current.is_object() ? current : Json::object(), modified));
  return patch;
}

std::string ConflictMessage(const std::vector<ApplyConflict>& conflicts) {
  std::string s = "Apply failed with " + std::to_string(conflicts.size()) +
                  (conflicts.size() == 1 ? " conflict: " : " conflicts: ");
  if (conflicts.size() == 1) {
    const auto& c = conflicts[0];
    return s + "conflict with \"" + c.manager + "\" using " + c.api_version + ": " + FieldPathString(c.field);
  }
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> by_owner;
  for (const auto& c : conflicts) by_owner[{c.manager, c.api_version}].push_back(FieldPathString(c.field));
  bool first = true;
  for (const auto& [owner, fields] : by_owner) {
    if (!first) s += "\n";
    first = false;
    s += "conflicts with \"" + owner.first + "\" using " + owner.second + ":";
    for (const auto& f : fields) s += "\n- " + f;
  }
  return s;
}

}  // namespace inferd::api
