#include "tf/tensor_bundle.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <unistd.h>

#include "tf/tensor_bundle.pb.h"

namespace inferd::tf {
namespace {

const std::string kData = INFERD_SOURCE_DIR "/tests/data/tf/";

std::string Prefix(const std::string& model) { return kData + model + "/variables/variables"; }

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

float ReadScalarFloat(const CheckpointReader& r, const std::string& key) {
  auto t = r.Read(key);
  EXPECT_TRUE(t.ok()) << key << ": " << t.status().ToString();
  if (!t.ok()) return -1;
  EXPECT_EQ(t->dtype(), DType::kFloat) << key;
  EXPECT_EQ(t->num_elements(), 1) << key;
  return t->data<float>()[0];
}

// ---- a minimal writer of the same format, for hostile cases with valid checksums -------------------------

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutFixed32(std::string* out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out->append(b, 4);
}

// One block: prefix-compressed entries, one restart point.
std::string Block(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out, last;
  for (const auto& [k, v] : entries) {
    size_t shared = 0;
    while (shared < last.size() && shared < k.size() && last[shared] == k[shared]) ++shared;
    PutVarint(&out, shared);
    PutVarint(&out, k.size() - shared);
    PutVarint(&out, v.size());
    out += k.substr(shared) + v;
    last = k;
  }
  PutFixed32(&out, 0);
  PutFixed32(&out, 1);
  return out;
}

// Appends a block with its trailer; returns its handle (offset, size).
std::pair<uint64_t, uint64_t> AppendBlock(std::string* file, const std::string& contents, bool snappy_block) {
  std::string body = contents;
  if (snappy_block) snappy::Compress(contents.data(), contents.size(), &body);
  uint64_t offset = file->size();
  char type = snappy_block ? 1 : 0;
  *file += body;
  file->push_back(type);
  PutFixed32(file, MaskCrc32c(Crc32cExtend(Crc32c(body), std::string_view(&type, 1))));
  return {offset, body.size()};
}

std::string Table(const std::vector<std::pair<std::string, std::string>>& entries, bool snappy_block = false) {
  std::string file;
  auto data = AppendBlock(&file, Block(entries), snappy_block);
  auto meta = AppendBlock(&file, Block({}), false);
  std::string handle;
  PutVarint(&handle, data.first);
  PutVarint(&handle, data.second);
  auto index = AppendBlock(&file, Block({{entries.empty() ? "" : entries.back().first, handle}}), false);
  std::string footer;
  PutVarint(&footer, meta.first);
  PutVarint(&footer, meta.second);
  PutVarint(&footer, index.first);
  PutVarint(&footer, index.second);
  footer.resize(40, '\0');
  uint64_t magic = 0xdb4775248b80fb57ull;
  footer.append(reinterpret_cast<const char*>(&magic), 8);
  return file + footer;
}

std::string Header(int shards = 1) {
  tfproto::BundleHeaderProto h;
  h.set_num_shards(shards);
  return h.SerializeAsString();
}

tfproto::BundleEntryProto FloatEntry(std::vector<int64_t> shape, int64_t offset, const std::string& bytes) {
  tfproto::BundleEntryProto e;
  e.set_dtype(1);
  for (int64_t d : shape) e.mutable_shape()->add_dim()->set_size(d);
  e.set_offset(offset);
  e.set_size(static_cast<int64_t>(bytes.size()));
  e.set_crc32c(MaskCrc32c(Crc32c(bytes)));
  return e;
}

std::string Floats(std::vector<float> v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4); }

// ---- checksums --------------------------------------------------------------------------------------------

TEST(TfTensorBundle, Crc32cKnownValuesAndMask) {
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);  // the standard crc32c check value
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8a9136aau);  // RFC 3720 B.4
  EXPECT_EQ(Crc32cExtend(Crc32c("1234"), "56789"), Crc32c("123456789"));
  std::string odd(1001, 'x');  // not a multiple of 8: the hardware path's tail
  EXPECT_EQ(Crc32cExtend(Crc32c(odd.substr(0, 3)), odd.substr(3)), Crc32c(odd));
  EXPECT_NE(MaskCrc32c(0x12345678u), 0x12345678u);
  EXPECT_EQ(UnmaskCrc32c(MaskCrc32c(0x12345678u)), 0x12345678u);
}

// ---- real bundles written by TensorFlow -------------------------------------------------------------------

TEST(TfTensorBundle, HalfPlusTwoSnappyIndex) {
  // This index's data block is Snappy-compressed (trailer type byte 1 right after the 87-byte block).
  std::string index = ReadAll(Prefix("saved_model_half_plus_two_cpu/00000123") + ".index");
  ASSERT_GT(index.size(), 87u);
  EXPECT_EQ(index[87], 1);
  auto r = OpenTensorBundle(Prefix("saved_model_half_plus_two_cpu/00000123"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->Keys(), (std::vector<std::string>{"a", "a2", "b", "c", "c2"}));
  EXPECT_EQ(ReadScalarFloat(**r, "a"), 0.5f);
  EXPECT_EQ(ReadScalarFloat(**r, "b"), 2.0f);
  EXPECT_EQ(ReadScalarFloat(**r, "c"), 3.0f);
  EXPECT_EQ(ReadScalarFloat(**r, "c2"), 3.0f);
  auto missing = (*r)->Read("d");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("'d'"), std::string::npos);
}

TEST(TfTensorBundle, UncompressedIndexesAndOtherModels) {
  auto gpu = OpenTensorBundle(Prefix("saved_model_half_plus_two_gpu/00000123"));
  ASSERT_TRUE(gpu.ok()) << gpu.status().ToString();
  EXPECT_EQ(ReadScalarFloat(**gpu, "a"), 0.5f);
  EXPECT_EQ(ReadScalarFloat(**gpu, "b"), 2.0f);
  auto three = OpenTensorBundle(Prefix("saved_model_half_plus_three/00000123"));
  ASSERT_TRUE(three.ok()) << three.status().ToString();
  EXPECT_EQ(ReadScalarFloat(**three, "b"), 3.0f);
  auto tf2 = OpenTensorBundle(Prefix("saved_model_half_plus_two_tf2_cpu/00000123"));
  ASSERT_TRUE(tf2.ok()) << tf2.status().ToString();
  EXPECT_EQ(ReadScalarFloat(**tf2, "a/.ATTRIBUTES/VARIABLE_VALUE"), 0.5f);
  EXPECT_EQ(ReadScalarFloat(**tf2, "c/.ATTRIBUTES/VARIABLE_VALUE"), 3.0f);
}

TEST(TfTensorBundle, IntegerVariables) {
  auto i64 = OpenTensorBundle(Prefix("tfjs_node_int64_multiply"));
  ASSERT_TRUE(i64.ok()) << i64.status().ToString();
  auto v1 = (*i64)->Read("v1/.ATTRIBUTES/VARIABLE_VALUE");
  auto v2 = (*i64)->Read("v2/.ATTRIBUTES/VARIABLE_VALUE");
  ASSERT_TRUE(v1.ok() && v2.ok());
  ASSERT_EQ(v1->dtype(), DType::kInt64);
  EXPECT_EQ(v1->data<int64_t>()[0] * v2->data<int64_t>()[0], 6);  // x * (3 * 2)
  auto i32 = OpenTensorBundle(Prefix("tfjs_node_times_two_int"));
  ASSERT_TRUE(i32.ok()) << i32.status().ToString();
  auto v = (*i32)->Read("v/.ATTRIBUTES/VARIABLE_VALUE");
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->dtype(), DType::kInt32);
  EXPECT_EQ(v->data<int32_t>()[0], 2);
}

TEST(TfTensorBundle, KerasCheckpointKeysShapesAndObjectGraphString) {
  auto r = OpenTensorBundle(Prefix("tf_rust_keras_single_input"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> keys = (*r)->Keys();
  EXPECT_EQ(keys.size(), 28u);  // the object graph, 4 metrics, 6 weights with 2 Adam slots each, 5 optimizer
  std::map<std::string, Shape> want = {
      {"layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE", {5, 5}},
      {"layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE", {5}},
      {"layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE", {5, 5}},
      {"layer_with_weights-2/kernel/.ATTRIBUTES/VARIABLE_VALUE", {5, 1}},
      {"layer_with_weights-2/bias/.ATTRIBUTES/VARIABLE_VALUE", {1}},
      {"layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE", {5, 5}},
  };
  for (const auto& [key, shape] : want) {
    auto t = (*r)->Read(key);
    ASSERT_TRUE(t.ok()) << key << ": " << t.status().ToString();
    EXPECT_EQ(t->dtype(), DType::kFloat) << key;
    EXPECT_EQ(t->shape(), shape) << key;
  }
  EXPECT_FLOAT_EQ(ReadScalarFloat(**r, "optimizer/learning_rate/.ATTRIBUTES/VARIABLE_VALUE"), 0.001f);
  auto iter = (*r)->Read("optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE");
  ASSERT_TRUE(iter.ok());
  ASSERT_EQ(iter->dtype(), DType::kInt64);
  EXPECT_EQ(iter->data<int64_t>()[0], 1);  // one Adam step
  // TF2's object graph: a DT_STRING scalar, a TrackableObjectGraph protobuf (field 1, length-delimited).
  auto graph = (*r)->Read("_CHECKPOINTABLE_OBJECT_GRAPH");
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  ASSERT_EQ(graph->dtype(), DType::kString);
  ASSERT_EQ(graph->strings().size(), 1u);
  EXPECT_EQ(graph->strings()[0].size(), 4647u);
  EXPECT_EQ(graph->strings()[0][0], '\n');

  auto multi = OpenTensorBundle(Prefix("tf_rust_keras_multiple_inputs"));
  ASSERT_TRUE(multi.ok()) << multi.status().ToString();
  auto k = (*multi)->Read("trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE");
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(k->shape(), (Shape{5, 3}));
}

// Every real bundle opens and every key reads (checksums verified on each value).
TEST(TfTensorBundle, EveryTestBundleReadsCompletely) {
  int bundles = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kData)) {
    if (e.path().filename() != "variables.index") continue;
    std::string prefix = e.path().string();
    prefix.resize(prefix.size() - 6);
    auto r = OpenTensorBundle(prefix);
    ASSERT_TRUE(r.ok()) << prefix << ": " << r.status().ToString();
    for (const auto& key : (*r)->Keys()) {
      auto t = (*r)->Read(key);
      EXPECT_TRUE(t.ok()) << prefix << " " << key << ": " << t.status().ToString();
    }
    ++bundles;
  }
  EXPECT_EQ(bundles, 20);
}

// ---- hostile and broken bundles ----------------------------------------------------------------------

TEST(TfTensorBundle, TruncatedIndexIsAnError) {
  std::string index = ReadAll(Prefix("saved_model_half_plus_two_cpu/00000123") + ".index");
  for (size_t n = 0; n < index.size(); ++n) {
    auto r = OpenTensorBundleFromBytes(index.substr(0, n), {});
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes";
  }
}

TEST(TfTensorBundle, CorruptedBlocksFailTheirChecksum) {
  const std::string prefix = Prefix("saved_model_half_plus_two_gpu/00000123");
  std::string index = ReadAll(prefix + ".index");
  std::string data = ReadAll(prefix + ".data-00000-of-00001");
  ASSERT_TRUE(OpenTensorBundleFromBytes(index, {data}).ok());
  // The data block is bytes [0, 66), the index block [84, 98) (see tests/data/tf/README.md's layout).
  for (size_t pos : {size_t{0}, size_t{10}, size_t{40}, size_t{65}, size_t{66}, size_t{90}}) {
    std::string bad = index;
    bad[pos] ^= 0x20;
    auto r = OpenTensorBundleFromBytes(bad, {data});
    ASSERT_FALSE(r.ok()) << "flip at " << pos;
    EXPECT_NE(r.status().message().find("checksum"), std::string::npos) << r.status().message();
  }
  // Every single-byte change: an error or a bundle that still reads without crashing.
  for (size_t pos = 0; pos < index.size(); ++pos) {
    std::string bad = index;
    bad[pos] = static_cast<char>(bad[pos] ^ 0xff);
    auto r = OpenTensorBundleFromBytes(bad, {data});
    if (!r.ok()) continue;
    for (const auto& k : (*r)->Keys()) (void)(*r)->Read(k);
  }
}

TEST(TfTensorBundle, BadFooterAndBlockHandles) {
  std::string index = Table({{"", Header()}});
  ASSERT_TRUE(OpenTensorBundleFromBytes(index, {}).ok());
  std::string bad_magic = index;
  bad_magic[bad_magic.size() - 1] ^= 1;
  auto r = OpenTensorBundleFromBytes(bad_magic, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("magic"), std::string::npos) << r.status().message();
  // An index handle pointing past the end of the file.
  std::string past = index;
  size_t footer = past.size() - 48;
  std::string handles;
  PutVarint(&handles, 0);
  PutVarint(&handles, 0);
  PutVarint(&handles, 1000);
  PutVarint(&handles, 50);
  past.replace(footer, handles.size(), handles);
  r = OpenTensorBundleFromBytes(past, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("past the end"), std::string::npos) << r.status().message();
  // A huge varint handle.
  std::string huge = index;
  std::string h2;
  PutVarint(&h2, 0);
  PutVarint(&h2, 0);
  PutVarint(&h2, ~uint64_t{0});
  PutVarint(&h2, ~uint64_t{0});
  huge.replace(footer, h2.size(), h2);
  EXPECT_FALSE(OpenTensorBundleFromBytes(huge, {}).ok());
}

TEST(TfTensorBundle, EntriesAreCheckedAgainstTheirShard) {
  std::string shard = Floats({1, 2, 3, 4});
  auto good = FloatEntry({2, 2}, 0, shard);
  auto past = FloatEntry({2}, 12, Floats({4, 5}));  // bytes [12, 20) of a 16-byte shard
  auto bad_crc = FloatEntry({1}, 4, Floats({2}));
  bad_crc.set_crc32c(bad_crc.crc32c() ^ 1);
  auto sliced = FloatEntry({2}, 0, Floats({1, 2}));
  sliced.add_slices();
  tfproto::BundleEntryProto other_shard = FloatEntry({1}, 0, Floats({1}));
  other_shard.set_shard_id(1);
  std::string index = Table({{"", Header(2)},
                             {"bad_crc", bad_crc.SerializeAsString()},
                             {"good", good.SerializeAsString()},
                             {"past", past.SerializeAsString()},
                             {"shard1", other_shard.SerializeAsString()},
                             {"sliced", sliced.SerializeAsString()}});
  auto r = OpenTensorBundleFromBytes(index, {shard});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto t = (*r)->Read("good");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->shape(), (Shape{2, 2}));
  EXPECT_EQ(t->data<float>()[3], 4.0f);
  auto p = (*r)->Read("past");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("past the end of data shard 0"), std::string::npos) << p.status().message();
  auto c = (*r)->Read("bad_crc");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("checksum"), std::string::npos) << c.status().message();
  auto s = (*r)->Read("sliced");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.status().message().find("slices"), std::string::npos);
  auto m = (*r)->Read("shard1");  // the header says 2 shards, only one is there
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("shard 1"), std::string::npos) << m.status().message();
}

TEST(TfTensorBundle, MalformedEntriesAreRefusedAtOpen) {
  auto open = [](std::vector<std::pair<std::string, std::string>> entries) {
    return OpenTensorBundleFromBytes(Table(entries), {std::string(64, '\0')});
  };
  auto good = FloatEntry({2}, 0, Floats({1, 2}));
  EXPECT_TRUE(open({{"", Header()}, {"x", good.SerializeAsString()}}).ok());
  EXPECT_FALSE(open({{"x", good.SerializeAsString()}}).ok());                                // no header
  EXPECT_FALSE(open({{"", Header(0)}, {"x", good.SerializeAsString()}}).ok());               // zero shards
  EXPECT_FALSE(open({{"", Header()}, {"y", good.SerializeAsString()}, {"x", good.SerializeAsString()}}).ok());
  EXPECT_FALSE(open({{"", Header()}, {"x", "\xff\xff\xff"}}).ok());                          // not a proto
  auto big_endian = tfproto::BundleHeaderProto();
  big_endian.set_num_shards(1);
  big_endian.set_endianness(1);
  auto be = open({{"", big_endian.SerializeAsString()}});
  ASSERT_FALSE(be.ok());
  EXPECT_EQ(be.status().code(), StatusCode::kUnimplemented);
  auto wrong_size = good;
  wrong_size.set_size(12);  // 3 floats for shape [2]
  EXPECT_FALSE(open({{"", Header()}, {"x", wrong_size.SerializeAsString()}}).ok());
  auto huge = good;
  huge.mutable_shape()->mutable_dim(0)->set_size(int64_t{1} << 40);
  EXPECT_FALSE(open({{"", Header()}, {"x", huge.SerializeAsString()}}).ok());
  auto negative = good;
  negative.set_offset(-4);
  EXPECT_FALSE(open({{"", Header()}, {"x", negative.SerializeAsString()}}).ok());
  auto bad_type = good;
  bad_type.set_dtype(77);
  EXPECT_FALSE(open({{"", Header()}, {"x", bad_type.SerializeAsString()}}).ok());
  auto bad_shard = good;
  bad_shard.set_shard_id(3);
  EXPECT_FALSE(open({{"", Header()}, {"x", bad_shard.SerializeAsString()}}).ok());
}

TEST(TfTensorBundle, SnappyBlocksAndTheirBounds) {
  auto e = FloatEntry({2}, 0, Floats({7, 8}));
  std::string index = Table({{"", Header()}, {"w", e.SerializeAsString()}}, /*snappy_block=*/true);
  auto r = OpenTensorBundleFromBytes(index, {Floats({7, 8})});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto t = (*r)->Read("w");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->data<float>()[1], 8.0f);
  // A Snappy block that claims 4 GiB uncompressed (a varint length prefix and nothing else), checksummed.
  std::string file;
  std::string claim;
  PutVarint(&claim, uint64_t{0xffffffff});
  char type = 1;
  auto data = std::make_pair(uint64_t{0}, uint64_t{claim.size()});
  file += claim;
  file.push_back(type);
  PutFixed32(&file, MaskCrc32c(Crc32cExtend(Crc32c(claim), std::string_view(&type, 1))));
  std::string handle;
  PutVarint(&handle, data.first);
  PutVarint(&handle, data.second);
  auto index_block = AppendBlock(&file, Block({{"z", handle}}), false);
  std::string footer;
  PutVarint(&footer, 0);
  PutVarint(&footer, 0);
  PutVarint(&footer, index_block.first);
  PutVarint(&footer, index_block.second);
  footer.resize(40, '\0');
  uint64_t magic = 0xdb4775248b80fb57ull;
  footer.append(reinterpret_cast<const char*>(&magic), 8);
  auto bomb = OpenTensorBundleFromBytes(file + footer, {});
  ASSERT_FALSE(bomb.ok());
  EXPECT_NE(bomb.status().message().find("Snappy"), std::string::npos) << bomb.status().message();
}

TEST(TfTensorBundle, StringValuesAsTensorFlowWritesThem) {
  // [varint64 lengths][masked crc32c of the lengths as uint32s][bytes]; the entry's crc extends over all.
  std::vector<std::string> values = {"ab", "", "xyz"};
  std::string lengths, bytes;
  uint32_t crc = 0;
  for (const auto& v : values) {
    PutVarint(&lengths, v.size());
    uint32_t len32 = static_cast<uint32_t>(v.size());
    crc = Crc32cExtend(crc, std::string_view(reinterpret_cast<const char*>(&len32), 4));
    bytes += v;
  }
  std::string checksum;
  PutFixed32(&checksum, MaskCrc32c(crc));
  std::string value = lengths + checksum + bytes;
  tfproto::BundleEntryProto e;
  e.set_dtype(7);
  e.mutable_shape()->add_dim()->set_size(3);
  e.set_size(static_cast<int64_t>(value.size()));
  e.set_crc32c(MaskCrc32c(Crc32cExtend(crc, checksum + bytes)));
  std::string index = Table({{"", Header()}, {"s", e.SerializeAsString()}});
  auto r = OpenTensorBundleFromBytes(index, {value});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto t = (*r)->Read("s");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->strings(), values);
  // A corrupted length fails the length checksum.
  std::string bad = value;
  bad[0] = 9;
  auto r2 = OpenTensorBundleFromBytes(index, {bad});
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE((*r2)->Read("s").ok());
  // More strings than bytes: refused before allocating.
  e.mutable_shape()->mutable_dim(0)->set_size(int64_t{1} << 30);
  auto r3 = OpenTensorBundleFromBytes(Table({{"", Header()}, {"s", e.SerializeAsString()}}), {value});
  ASSERT_TRUE(r3.ok());
  EXPECT_FALSE((*r3)->Read("s").ok());
}

TEST(TfTensorBundle, MissingFilesAreNotFound) {
  auto r = OpenTensorBundle(kData + "no_such_model/variables/variables");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  // An index whose data shard is missing opens, and reading names the shard file.
  auto dir = std::filesystem::temp_directory_path() / ("tf_bundle_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(Prefix("saved_model_half_plus_two_gpu/00000123") + ".index", dir / "v.index",
                             std::filesystem::copy_options::overwrite_existing);
  auto opened = OpenTensorBundle((dir / "v").string());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto t = (*opened)->Read("a");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("v.data-00000-of-00001"), std::string::npos) << t.status().message();
  // A shard shorter than the index says: past its end.
  std::ofstream(dir / "v.data-00000-of-00001", std::ios::binary) << "abcd";
  auto b = (*opened)->Read("b");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("past the end"), std::string::npos) << b.status().message();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace inferd::tf
