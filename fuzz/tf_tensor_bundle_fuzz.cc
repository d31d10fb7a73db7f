// fuzz/tf_tensor_bundle_fuzz.cc: a checkpoint's variables.index (tf/tensor_bundle.h: the LevelDB-format table,
// its blocks, Snappy, the BundleHeaderProto and BundleEntryProtos), then every key read against a small fixed
// data shard. Block checksums stop most mutated tables early, so an input whose first byte is 'B' (or 'S') is
// instead taken as the contents of one data block (or its uncompressed form, Snappy-compressed here) that the
// target wraps in a table with valid checksums: the block, entry and value readers behind the checksums are
// reached too.
#include <snappy.h>

#include <cstring>

#include "fuzz_check.h"
#include "tf/tensor_bundle.h"

namespace {

// The data shard of tests/data/tf/saved_model_half_plus_two_cpu (a, a2, b, c, c2 as floats).
const std::string kShard("\x00\x00\x00\x3f\x00\x00\x00\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x40\x40", 20);

void PutVarint(std::string* out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) out->push_back(static_cast<char>(v | 0x80));
  out->push_back(static_cast<char>(v));
}

void AppendBlock(std::string* file, std::string_view contents, char type, std::string* handle) {
  PutVarint(handle, file->size());
  PutVarint(handle, contents.size());
  *file += contents;
  file->push_back(type);
  uint32_t crc = inferd::tf::MaskCrc32c(inferd::tf::Crc32cExtend(inferd::tf::Crc32c(contents), {&type, 1}));
  file->append(reinterpret_cast<const char*>(&crc), 4);
}

// A table whose only data block is `block` (already in its stored form) of compression `type`.
std::string Wrap(std::string_view block, char type) {
  std::string file, data_handle, index_handle;
  AppendBlock(&file, block, type, &data_handle);
  std::string index_block = "\x00\x01" + std::string(1, static_cast<char>(data_handle.size())) + "~" + data_handle;
  index_block.append("\x00\x00\x00\x00\x01\x00\x00\x00", 8);  // one restart point at 0
  AppendBlock(&file, index_block, 0, &index_handle);
  std::string footer = "\x00\x00" + index_handle;  // an empty metaindex handle, then the index block's
  footer.resize(40, '\0');
  uint64_t magic = 0xdb4775248b80fb57ull;
  footer.append(reinterpret_cast<const char*>(&magic), 8);
  return file + footer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = inferd::fuzz::AsText(data, size);
  std::string index(in);
  if (!in.empty() && in[0] == 'B') {
    index = Wrap(in.substr(1), 0);
  } else if (!in.empty() && in[0] == 'S') {
    std::string compressed;
    snappy::Compress(in.data() + 1, in.size() - 1, &compressed);
    index = Wrap(compressed, 1);
  }
  auto r = inferd::tf::OpenTensorBundleFromBytes(index, {kShard}, "fuzz.index");
  if (!r.ok()) {
    FUZZ_CHECK(!r.status().message().empty(), "an error without a message");
    return 0;
  }
  std::vector<std::string> keys = (*r)->Keys();
  for (size_t i = 0; i < keys.size(); ++i) {
    FUZZ_CHECK(!keys[i].empty(), "the header key is listed as a variable");
    FUZZ_CHECK(i == 0 || keys[i - 1] < keys[i], "keys not strictly increasing");
    auto t = (*r)->Read(keys[i]);
    if (!t.ok()) continue;
    FUZZ_CHECK(t->valid(), "a read tensor without a dtype");
    FUZZ_CHECK(t->byte_size() <= kShard.size(), "a value larger than the data shard it came from");
  }
  return 0;
}
