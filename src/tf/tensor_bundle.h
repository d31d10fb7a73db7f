// tf/tensor_bundle.h: TensorFlow's checkpoint format (a TensorBundle: `<prefix>.index` +
// `<prefix>.data-NNNNN-of-NNNNN`) read natively, as the CheckpointReader of tf/checkpoint.h.
//
// Contract:
// - `<prefix>.index` is a LevelDB-format table (footer with the index block's handle and magic
//   0xdb4775248b80fb57; blocks of prefix-compressed keys; each block followed by a 1-byte compression type,
//   0 none or 1 Snappy, and a masked crc32c that is verified). Key "" holds a BundleHeaderProto (number of data
//   shards, little endian only), every other key a BundleEntryProto (dtype, shape, shard, offset, size, masked
//   crc32c of the value bytes).
// - Opening reads and checks the whole index (block bounds and checksums, sorted unique keys, every entry's
//   dtype, shape and shard); a hostile index gives an error naming the file and block, never a read out of
//   bounds or an allocation beyond the index's own size (Snappy blocks are bounded before they are inflated).
// - Read(key) reads the value from its data shard on each call (open, pread, close): offset and size are
//   checked against the shard's length and the value's crc32c is verified before a Tensor is returned.
//   Fixed-size dtypes and DT_STRING (varint64 lengths, a crc32c of the lengths, then the bytes) are read;
//   sliced entries (partitioned variables), DT_VARIANT and DT_RESOURCE values are refused with a message.
// - The reader is immutable after opening and safe to call from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tf/checkpoint.h"

namespace inferd::tf {

// Opens the bundle `<prefix>.index`; data shards are opened on each Read. A SavedModel's variables are the
// bundle `<dir>/variables/variables`.
StatusOr<std::unique_ptr<CheckpointReader>> OpenTensorBundle(const std::string& prefix);

// The same over bytes held in memory (tests, fuzzing): `shards[i]` is data shard i. `name` prefixes errors.
StatusOr<std::unique_ptr<CheckpointReader>> OpenTensorBundleFromBytes(std::string index,
                                                                      std::vector<std::string> shards,
                                                                      std::string name = "<memory>");

// Reads a whole file of at most `max_bytes` (InvalidArgument naming the file beyond that, NotFound when
// absent). Shared by the SavedModel reader.
StatusOr<std::string> ReadFileBounded(const std::string& path, uint64_t max_bytes);

// A protobuf-style varint from the front of `in` (consumed); false when truncated or over 10 bytes.
bool GetVarint64(std::string_view* in, uint64_t* v);

// crc32c (Castagnoli), as LevelDB and TensorFlow use it: Crc32cExtend(0, data) is the crc of data.
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);
inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data); }
// The masked form stored in tables and bundle entries: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t MaskCrc32c(uint32_t crc);
uint32_t UnmaskCrc32c(uint32_t masked);

}  // namespace inferd::tf
