#include "tf/model.h"

#include <filesystem>
#include <set>

#include "tf/saved_model.h"
#include "tf/tensor_bundle.h"
#include "tf/tfjs_model.h"

namespace inferd::tf {
namespace {

Tensor StringScalar(std::string value) {
  Tensor t = *Tensor::Make(DType::kString, {});
  t.strings()[0] = std::move(value);
  return t;
}

std::string SignatureNames(const MetaGraph& meta) {
  std::string out;
  for (const auto& [name, _] : meta.signatures) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none" : out;
}

// Runs `targets` once with `feeds` (tensor name -> value) and drops the executable.
Status RunOnce(const GraphDef& graph, const std::vector<std::pair<std::string, Tensor>>& feeds,
               std::vector<std::string> targets, const CompileOptions& options, RunContext& ctx) {
  std::vector<std::string> names;
  std::vector<Tensor> values;
  for (const auto& [name, value] : feeds) {
    names.push_back(name);
    values.push_back(value);
  }
  auto exe = Compile(graph, names, {}, std::move(targets), options);
  if (!exe.ok()) return exe.status();
  std::vector<Tensor> none;
  return (*exe)->Run(values, &none, ctx);
}

// Only the feeds whose node exists in the graph (an asset tensor of a pruned-away initializer is not fed).
std::vector<std::pair<std::string, Tensor>> ExistingFeeds(const GraphDef& graph,
                                                          std::vector<std::pair<std::string, Tensor>> feeds) {
  std::set<std::string, std::less<>> nodes;
  for (const NodeDef& n : graph.nodes) nodes.insert(n.name);
  std::vector<std::pair<std::string, Tensor>> kept;
  for (auto& f : feeds) {
    if (nodes.count(ParseInput(f.first).node)) kept.push_back(std::move(f));
  }
  return kept;
}

}  // namespace

StatusOr<std::unique_ptr<TfModel>> TfModel::LoadSavedModel(const std::string& dir, std::string_view tags,
                                                           const CompileOptions& options) {
  auto version = FindServedVersion(dir);
  if (!version.ok()) return version.status();
  std::vector<AssetFeed> assets;
  auto meta = tf::LoadSavedModel(*version, tags, {}, &assets);
  if (!meta.ok()) return meta.status();
  std::unique_ptr<TfModel> model(new TfModel(std::move(*meta), *version, options));
  std::vector<std::pair<std::string, std::string>> asset_feeds;
  for (const AssetFeed& a : assets) {
    asset_feeds.emplace_back(a.tensor, (std::filesystem::path(*version) / "assets" / a.file).string());
  }
  Status st = model->Restore(*version, asset_feeds);
  if (!st.ok()) return st;
  return model;
}

StatusOr<std::unique_ptr<TfModel>> TfModel::LoadTfjs(const std::string& model_json, const CompileOptions& options) {
  auto meta = LoadTfjsModel(model_json);
  if (!meta.ok()) return meta.status();
  return std::unique_ptr<TfModel>(new TfModel(std::move(*meta), model_json, options));
}

// TensorFlow's loader order: the restore op with the checkpoint prefix fed (skipped when the model has no
// variables index), then the init op; both with the asset paths fed.
Status TfModel::Restore(const std::string& version_dir,
                        const std::vector<std::pair<std::string, std::string>>& asset_feeds) {
  if (!meta_.restore) return Status::Ok();
  const RestoreSpec& spec = *meta_.restore;
  std::vector<std::pair<std::string, Tensor>> feeds;
  for (const auto& [tensor, path] : asset_feeds) feeds.emplace_back(tensor, StringScalar(path));
  RunContext ctx{&variables_, nullptr};
  const std::string prefix = VariablesPrefix(version_dir);
  if (!spec.restore_op.empty() && std::filesystem::exists(prefix + ".index")) {
    auto reader = OpenTensorBundle(prefix);
    if (!reader.ok()) return reader.status().WithPrefix("reading variables");
    checkpoint_ = std::move(*reader);
    ctx.checkpoint = checkpoint_.get();
    auto restore_feeds = feeds;
    if (!spec.filename_tensor.empty()) restore_feeds.emplace_back(spec.filename_tensor, StringScalar(prefix));
    Status st = RunOnce(meta_.graph, ExistingFeeds(meta_.graph, restore_feeds), {spec.restore_op}, options_, ctx);
    if (!st.ok()) return st.WithPrefix("restoring variables");
  }
  if (!spec.init_ops.empty()) {
    Status st = RunOnce(meta_.graph, ExistingFeeds(meta_.graph, feeds), spec.init_ops, options_, ctx);
    if (!st.ok()) return st.WithPrefix("running the init op");
  }
  return Status::Ok();
}

StatusOr<std::pair<std::string, const SignatureDef*>> TfModel::FindSignature(std::string_view name) const {
  if (name.empty()) {
    auto it = meta_.signatures.find("serving_default");
    if (it == meta_.signatures.end() && meta_.signatures.size() == 1) it = meta_.signatures.begin();
    if (it == meta_.signatures.end()) {
      return NotFound("the model has no 'serving_default' signature; it has: " + SignatureNames(meta_));
    }
    return std::make_pair(it->first, &it->second);
  }
  auto it = meta_.signatures.find(name);
  if (it == meta_.signatures.end()) {
    return NotFound("signature '" + std::string(name) + "' not found; the model has: " + SignatureNames(meta_));
  }
  return std::make_pair(it->first, &it->second);
}

StatusOr<std::shared_ptr<const TfModel::Entry>> TfModel::Prepare(const std::string& signature,
                                                                  const SignatureDef& sig,
                                                                  const std::vector<std::string>& outputs) {
  // The cache key is built in a buffer kept by the thread: a request allocates nothing to find its entry.
  // Empty outputs (every output, in alias order) key as "<signature>\n*"; aliases never contain '\n'.
  thread_local std::string key;
  key = signature;
  if (outputs.empty()) key += "\n*";
  for (const std::string& o : outputs) (key += '\n') += o;
  {
    MutexLock lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  auto entry = std::make_shared<Entry>();
  std::vector<std::string> feeds, fetches;
  for (const auto& [alias, info] : sig.inputs) {
    entry->feed_aliases.push_back(alias);
    feeds.push_back(info.tensor_name);
  }
  for (const auto& [alias, info] : sig.outputs) {
    if (outputs.empty()) fetches.push_back(info.tensor_name);
  }
  for (const std::string& o : outputs) fetches.push_back(sig.outputs.find(o)->second.tensor_name);
  auto exe = Compile(meta_.graph, feeds, fetches, {}, options_);
  if (exe.ok()) {
    entry->exe = std::move(*exe);
  } else {
    entry->status = exe.status().WithPrefix("signature '" + signature + "'");
  }
  MutexLock lock(cache_mu_);
  if (cache_.size() < kMaxCachedExecutables) cache_.emplace(key, entry);
  return std::shared_ptr<const Entry>(std::move(entry));
}

StatusOr<bool> TfModel::Stateful(std::string_view signature) {
  ASSIGN_OR_RETURN(auto found, FindSignature(signature));
  const auto& [name, sig] = found;
  std::vector<std::string> all;
  for (const auto& [alias, _] : sig->outputs) all.push_back(alias);
  ASSIGN_OR_RETURN(auto entry, Prepare(name, *sig, all));
  if (!entry->status.ok()) return entry->status;
  return entry->exe->stateful();
}

Status TfModel::Run(std::string_view signature, const std::vector<std::pair<std::string, Tensor>>& inputs,
                    const std::vector<std::string>& outputs, std::vector<Tensor>* results, int64_t deadline_ns) {
  auto found = FindSignature(signature);
  if (!found.ok()) return found.status();
  const auto& [name, sig] = *found;
  for (const std::string& o : outputs) {
    if (!sig->outputs.count(o)) return InvalidArgument("signature '" + name + "' has no output '" + o + "'");
  }
  if (inputs.size() != sig->inputs.size()) {
    return InvalidArgument("signature '" + name + "' takes " + std::to_string(sig->inputs.size()) +
                           " inputs, the request gave " + std::to_string(inputs.size()));
  }
  auto entry = Prepare(name, *sig, outputs);
  if (!entry.ok()) return entry.status();
  if (!(*entry)->status.ok()) return (*entry)->status;
  std::vector<Tensor> feeds;
  feeds.reserve(inputs.size());
  for (const std::string& alias : (*entry)->feed_aliases) {
    const Tensor* value = nullptr;
    for (const auto& [a, t] : inputs) {
      if (a == alias) value = &t;
    }
    if (value == nullptr) return InvalidArgument("signature '" + name + "' needs input '" + alias + "'");
    feeds.push_back(*value);
  }
  RunContext ctx{&variables_, checkpoint_.get(), deadline_ns};
  results->clear();
  const Executable& exe = *(*entry)->exe;
  if (!exe.stateful()) return exe.Run(feeds, results, ctx);
  MutexLock lock(stateful_mu_);
  return exe.Run(feeds, results, ctx);
}

}  // namespace inferd::tf
