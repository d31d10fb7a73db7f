#include "tf/tensor_bundle.h"

#include <fcntl.h>
#include <snappy.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>

#include "tf/tensor_bundle.pb.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace inferd::tf {

static_assert(std::endian::native == std::endian::little, "the bundle reader assumes a little-endian host");

// ---- crc32c --------------------------------------------------------------------------------------
namespace {

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

uint32_t CrcBytes(uint32_t c, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) c = kCrcTable[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t CrcHardware(uint32_t c, const unsigned char* p, size_t n) {
  uint64_t c64 = c;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c64 = _mm_crc32_u64(c64, w);
  }
  uint32_t c32 = static_cast<uint32_t>(c64);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}
const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (kHaveSse42) return ~CrcHardware(c, p, data.size());
#endif
  return ~CrcBytes(c, p, data.size());
}

uint32_t MaskCrc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

uint32_t UnmaskCrc32c(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

// ---- files -----------------------------------------------------------------------------------------
namespace {

std::string ErrnoText() { return std::strerror(errno); }

// An open file descriptor, closed on destruction.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens a regular file and returns its size.
StatusOr<uint64_t> OpenRegular(const std::string& path, std::unique_ptr<Fd>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(path + ": no such file");
    return InvalidArgument(path + ": cannot open: " + ErrnoText());
  }
  *out = std::make_unique<Fd>(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return InvalidArgument(path + ": cannot stat: " + ErrnoText());
  if (!S_ISREG(st.st_mode)) return InvalidArgument(path + ": not a regular file");
  return static_cast<uint64_t>(st.st_size);
}

Status PreadFully(int fd, uint64_t offset, uint64_t size, char* dst, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::pread(fd, dst, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return InvalidArgument(path + ": read failed: " + ErrnoText());
    if (n == 0) return InvalidArgument(path + ": file shrank while being read");
    dst += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::string> ReadFileBounded(const std::string& path, uint64_t max_bytes) {
  std::unique_ptr<Fd> fd;
  ASSIGN_OR_RETURN(uint64_t size, OpenRegular(path, &fd));
  if (size > max_bytes) {
    return InvalidArgument(path + ": " + std::to_string(size) + " bytes, more than the limit of " +
                           std::to_string(max_bytes));
  }
  std::string data(size, '\0');
  RETURN_IF_ERROR(PreadFully(fd->get(), 0, size, data.data(), path));
  return data;
}

bool GetVarint64(std::string_view* in, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    auto b = static_cast<uint8_t>((*in)[0]);
    in->remove_prefix(1);
    r |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      *v = r;
      return true;
    }
  }
  return false;
}

// ---- the LevelDB-format table ------------------------------------------------------------------------
namespace {

constexpr uint64_t kTableMagic = 0xdb4775248b80fb57ull;
constexpr size_t kFooterSize = 48;
constexpr size_t kBlockTrailerSize = 5;  // compression type + masked crc32c
constexpr uint64_t kMaxIndexFileBytes = uint64_t{256} << 20;
constexpr uint64_t kMaxBlockBytes = uint64_t{64} << 20;
constexpr int kMaxShards = 99999;  // shard files are named with %05d

bool GetVarint32(std::string_view* in, uint32_t* v) {
  uint64_t x = 0;
  if (!GetVarint64(in, &x) || x > UINT32_MAX) return false;
  *v = static_cast<uint32_t>(x);
  return true;
}

uint32_t Fixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

uint64_t Fixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;
};

bool DecodeHandle(std::string_view* in, BlockHandle* h) {
  return GetVarint64(in, &h->offset) && GetVarint64(in, &h->size);
}

using EntryFn = std::function<Status(std::string_view key, std::string_view value)>;

class TableParser {
 public:
  TableParser(std::string_view file, const std::string& name) : file_(file), name_(name) {}

  // Calls fn for every key of every data block, in file order.
  Status ForEach(const EntryFn& fn) {
    if (file_.size() < kFooterSize) return Err("too short for a table footer (" + Size(file_.size()) + ")");
    const char* footer = file_.data() + file_.size() - kFooterSize;
    if (Fixed64(footer + 40) != kTableMagic) return Err("bad table magic number (not a TensorBundle index)");
    std::string_view handles(footer, 40);
    BlockHandle meta, index;
    if (!DecodeHandle(&handles, &meta) || !DecodeHandle(&handles, &index)) return Err("bad footer block handles");
    ASSIGN_OR_RETURN(std::string index_block, ReadBlock(index, "index"));
    uint64_t next_offset = 0;
    return ParseBlock(index_block, "index", [&](std::string_view, std::string_view value) -> Status {
      BlockHandle h;
      if (!DecodeHandle(&value, &h)) return Err("bad data block handle in the index block");
      if (h.offset < next_offset) return Err("data blocks overlap or are out of order");
      ASSIGN_OR_RETURN(std::string data, ReadBlock(h, "data"));
      next_offset = h.offset + h.size + kBlockTrailerSize;  // ReadBlock checked that this is within the file
      return ParseBlock(data, "data block at " + std::to_string(h.offset), fn);
    });
  }

 private:
  static std::string Size(uint64_t n) { return std::to_string(n) + " bytes"; }
  Status Err(const std::string& what) const { return InvalidArgument(name_ + ": " + what); }

  StatusOr<std::string> ReadBlock(BlockHandle h, std::string_view what) {
    const uint64_t n = file_.size();
    std::string where = std::string(what) + " block at offset " + std::to_string(h.offset) + " size " +
                        std::to_string(h.size);
    if (h.offset > n || h.size > n - h.offset || n - h.offset - h.size < kBlockTrailerSize) {
      return Err(where + " runs past the end of the file (" + Size(n) + ")");
    }
    std::string_view contents = file_.substr(h.offset, h.size);
    const char* trailer = contents.data() + contents.size();
    uint32_t actual = Crc32cExtend(Crc32c(contents), std::string_view(trailer, 1));
    if (UnmaskCrc32c(Fixed32(trailer + 1)) != actual) return Err(where + ": checksum mismatch");
    switch (static_cast<uint8_t>(trailer[0])) {
      case 0:
        return std::string(contents);
      case 1:
        return Inflate(contents, where);
      default:
        return Err(where + ": compression type " + std::to_string(static_cast<uint8_t>(trailer[0])) +
                   " is not supported (only none and Snappy)");
    }
  }

  StatusOr<std::string> Inflate(std::string_view contents, const std::string& where) {
    size_t len = 0;
    if (!snappy::GetUncompressedLength(contents.data(), contents.size(), &len)) {
      return Err(where + ": corrupt Snappy block");
    }
    // Snappy expands at most ~21x; a larger claim is corrupt and must not size an allocation.
    if (len > kMaxBlockBytes || len > 32 * contents.size() + 64) {
      return Err(where + ": Snappy block claims " + Size(len) + " uncompressed");
    }
    std::string out;
    if (!snappy::Uncompress(contents.data(), contents.size(), &out)) return Err(where + ": corrupt Snappy block");
    return out;
  }

  Status ParseBlock(std::string_view block, const std::string& where, const EntryFn& fn) {
    if (block.size() < 4) return Err(where + ": too short");
    uint32_t restarts = Fixed32(block.data() + block.size() - 4);
    if (restarts > (block.size() - 4) / 4) return Err(where + ": bad restart count");
    std::string_view p = block.substr(0, block.size() - 4 - 4 * size_t{restarts});
    std::string key;
    while (!p.empty()) {
      uint32_t shared = 0, unshared = 0, vlen = 0;
      if (!GetVarint32(&p, &shared) || !GetVarint32(&p, &unshared) || !GetVarint32(&p, &vlen)) {
        return Err(where + ": bad entry header");
      }
      if (shared > key.size() || unshared > p.size() || vlen > p.size() - unshared) {
        return Err(where + ": entry runs past the block");
      }
      key.resize(shared);
      key.append(p.data(), unshared);
      std::string_view value = p.substr(unshared, vlen);
      p.remove_prefix(size_t{unshared} + vlen);
      RETURN_IF_ERROR(fn(key, value));
    }
    return Status::Ok();
  }

  std::string_view file_;
  const std::string& name_;
};

// ---- data shards -------------------------------------------------------------------------------------

// One open data shard: its length and positioned reads.
class Shard {
 public:
  virtual ~Shard() = default;
  virtual uint64_t size() const = 0;
  virtual Status ReadAt(uint64_t offset, uint64_t n, char* dst) const = 0;  // within size(), checked by caller
};

class ShardSource {
 public:
  virtual ~ShardSource() = default;
  virtual StatusOr<std::unique_ptr<Shard>> Open(int shard, int num_shards) const = 0;
};

class FileShard : public Shard {
 public:
  FileShard(std::unique_ptr<Fd> fd, uint64_t size, std::string path)
      : fd_(std::move(fd)), size_(size), path_(std::move(path)) {}
  uint64_t size() const override { return size_; }
  Status ReadAt(uint64_t offset, uint64_t n, char* dst) const override {
    return PreadFully(fd_->get(), offset, n, dst, path_);
  }

 private:
  std::unique_ptr<Fd> fd_;
  uint64_t size_;
  std::string path_;
};

class FileShards : public ShardSource {
 public:
  explicit FileShards(std::string prefix) : prefix_(std::move(prefix)) {}
  StatusOr<std::unique_ptr<Shard>> Open(int shard, int num_shards) const override {
    char suffix[64];
    std::snprintf(suffix, sizeof(suffix), ".data-%05d-of-%05d", shard, num_shards);
    std::string path = prefix_ + suffix;
    std::unique_ptr<Fd> fd;
    ASSIGN_OR_RETURN(uint64_t size, OpenRegular(path, &fd));
    return std::unique_ptr<Shard>(std::make_unique<FileShard>(std::move(fd), size, std::move(path)));
  }

 private:
  std::string prefix_;
};

class MemoryShard : public Shard {
 public:
  explicit MemoryShard(std::string_view data) : data_(data) {}
  uint64_t size() const override { return data_.size(); }
  Status ReadAt(uint64_t offset, uint64_t n, char* dst) const override {
    if (n > 0) std::memcpy(dst, data_.data() + offset, n);
    return Status::Ok();
  }

 private:
  std::string_view data_;
};

class MemoryShards : public ShardSource {
 public:
  explicit MemoryShards(std::vector<std::string> shards) : shards_(std::move(shards)) {}
  StatusOr<std::unique_ptr<Shard>> Open(int shard, int) const override {
    if (shard < 0 || static_cast<size_t>(shard) >= shards_.size()) {
      return NotFound("data shard " + std::to_string(shard) + " is missing");
    }
    return std::unique_ptr<Shard>(std::make_unique<MemoryShard>(shards_[static_cast<size_t>(shard)]));
  }

 private:
  std::vector<std::string> shards_;
};

// ---- the bundle ----------------------------------------------------------------------------------------

Status ChecksumError(const std::string& what) {
  return InvalidArgument(what + ": checksum mismatch in the data shard (corrupt or truncated checkpoint)");
}

struct Entry {
  DType dtype = DType::kInvalid;
  Shape shape;
  int64_t num_elements = 0;
  int shard = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t masked_crc = 0;
  bool sliced = false;
};

class BundleReader : public CheckpointReader {
 public:
  BundleReader(std::string name, std::unique_ptr<ShardSource> shards)
      : name_(std::move(name)), shards_(std::move(shards)) {}

  Status Parse(std::string_view index);
  StatusOr<Tensor> Read(std::string_view key) const override;
  std::vector<std::string> Keys() const override {
    std::vector<std::string> keys;
    keys.reserve(entries_.size());
    for (const auto& [k, _] : entries_) keys.push_back(k);
    return keys;
  }

 private:
  Status ParseHeader(std::string_view value);
  StatusOr<Entry> ParseEntry(const std::string& key, std::string_view value) const;
  Status CheckExtent(const std::string& what, const Entry& e, const Shard& shard) const;
  StatusOr<Tensor> ReadStrings(const std::string& what, const Entry& e, const Shard& shard) const;

  std::string name_;
  std::unique_ptr<ShardSource> shards_;
  int num_shards_ = 0;
  std::map<std::string, Entry, std::less<>> entries_;
};

Status BundleReader::Parse(std::string_view index) {
  bool first = true;
  std::string last;
  TableParser table(index, name_);
  RETURN_IF_ERROR(table.ForEach([&](std::string_view key, std::string_view value) -> Status {
    if (!first && key <= last) {
      return InvalidArgument(name_ + ": keys out of order or repeated at '" + std::string(key) + "'");
    }
    if (first) {
      first = false;
      if (!key.empty()) return InvalidArgument(name_ + ": no bundle header (the first key is not \"\")");
      return ParseHeader(value);
    }
    last = std::string(key);
    ASSIGN_OR_RETURN(Entry e, ParseEntry(last, value));
    entries_.emplace_hint(entries_.end(), last, std::move(e));
    return Status::Ok();
  }));
  if (first) return InvalidArgument(name_ + ": empty table (no bundle header)");
  return Status::Ok();
}

Status BundleReader::ParseHeader(std::string_view value) {
  tfproto::BundleHeaderProto h;
  if (!h.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return InvalidArgument(name_ + ": corrupt bundle header");
  }
  if (h.endianness() == 1) return Unimplemented(name_ + ": big-endian bundles are not supported");
  if (h.endianness() != 0) return InvalidArgument(name_ + ": unknown endianness " + std::to_string(h.endianness()));
  if (h.num_shards() < 1 || h.num_shards() > kMaxShards) {
    return InvalidArgument(name_ + ": bad shard count " + std::to_string(h.num_shards()));
  }
  num_shards_ = h.num_shards();
  return Status::Ok();
}

StatusOr<Entry> BundleReader::ParseEntry(const std::string& key, std::string_view value) const {
  const std::string what = name_ + ": key '" + key + "'";
  tfproto::BundleEntryProto p;
  if (!p.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return InvalidArgument(what + ": corrupt BundleEntryProto");
  }
  Entry e;
  e.dtype = DTypeFromProto(p.dtype());
  if (e.dtype == DType::kInvalid) return InvalidArgument(what + ": unknown dtype " + std::to_string(p.dtype()));
  if (p.shape().unknown_rank()) return InvalidArgument(what + ": shape of unknown rank");
  for (const auto& d : p.shape().dim()) e.shape.push_back(d.size());
  auto n = NumElements(e.shape);
  if (!n.ok()) return n.status().WithPrefix(what);
  e.num_elements = *n;
  if (p.shard_id() < 0 || p.shard_id() >= num_shards_) {
    return InvalidArgument(what + ": shard " + std::to_string(p.shard_id()) + " of " + std::to_string(num_shards_));
  }
  if (p.offset() < 0 || p.size() < 0) return InvalidArgument(what + ": negative offset or size");
  e.shard = p.shard_id();
  e.offset = static_cast<uint64_t>(p.offset());
  e.size = static_cast<uint64_t>(p.size());
  e.masked_crc = p.crc32c();
  e.sliced = p.slices_size() > 0;
  const size_t esize = DTypeSize(e.dtype);
  if (!e.sliced && esize > 0 && e.size != static_cast<uint64_t>(e.num_elements) * esize) {
    return InvalidArgument(what + ": " + std::to_string(e.size) + " bytes for " + std::string(DTypeName(e.dtype)) +
                           " " + ShapeString(e.shape));
  }
  return e;
}

Status BundleReader::CheckExtent(const std::string& what, const Entry& e, const Shard& shard) const {
  if (e.offset > shard.size() || e.size > shard.size() - e.offset) {
    return InvalidArgument(what + ": bytes [" + std::to_string(e.offset) + ", +" + std::to_string(e.size) +
                           ") run past the end of data shard " + std::to_string(e.shard) + " (" +
                           std::to_string(shard.size()) + " bytes)");
  }
  return Status::Ok();
}

StatusOr<Tensor> BundleReader::Read(std::string_view key) const {
  auto it = entries_.find(key);
  const std::string what = name_ + ": key '" + std::string(key) + "'";
  if (it == entries_.end()) return NotFound(what + " is not in the checkpoint");
  const Entry& e = it->second;
  if (e.sliced) {
    return Unimplemented(what + " is stored in slices (a partitioned variable); sliced entries are not supported");
  }
  if (e.dtype == DType::kVariant || e.dtype == DType::kResource) {
    return Unimplemented(what + ": " + std::string(DTypeName(e.dtype)) + " values are not supported");
  }
  auto shard = shards_->Open(e.shard, num_shards_);
  if (!shard.ok()) return shard.status().WithPrefix(what);
  if (e.dtype == DType::kString) return ReadStrings(what, e, **shard);
  // Fixed-size values go straight into the tensor (its byte size is e.size, checked at open), once their
  // extent is known to lie within the shard.
  RETURN_IF_ERROR(CheckExtent(what, e, **shard));
  ASSIGN_OR_RETURN(Tensor t, Tensor::Make(e.dtype, e.shape));
  RETURN_IF_ERROR((*shard)->ReadAt(e.offset, e.size, t.raw()));
  if (Crc32c(std::string_view(t.raw(), e.size)) != UnmaskCrc32c(e.masked_crc)) return ChecksumError(what);
  return t;
}

// [varint64 length] x n, [masked crc32c of the lengths, 4 bytes], then the string bytes. As TensorFlow writes
// it, both checksums cover each length as a little-endian uint32 (uint64 beyond 4 GiB), not its varint; the
// entry's checksum then extends over the 4 checksum bytes and the string bytes.
StatusOr<Tensor> BundleReader::ReadStrings(const std::string& what, const Entry& e, const Shard& shard) const {
  if (static_cast<uint64_t>(e.num_elements) > e.size) {
    return InvalidArgument(what + ": " + std::to_string(e.size) + " bytes cannot hold " +
                           std::to_string(e.num_elements) + " strings");
  }
  RETURN_IF_ERROR(CheckExtent(what, e, shard));
  std::string bytes(e.size, '\0');
  RETURN_IF_ERROR(shard.ReadAt(e.offset, e.size, bytes.data()));
  std::string_view p = bytes;
  std::vector<uint64_t> lengths(static_cast<size_t>(e.num_elements));
  uint32_t crc = 0;
  for (auto& len : lengths) {
    if (!GetVarint64(&p, &len)) return InvalidArgument(what + ": bad string length");
    char le[8];
    std::memcpy(le, &len, 8);
    crc = Crc32cExtend(crc, std::string_view(le, len <= UINT32_MAX ? 4 : 8));
  }
  if (p.size() < 4) return InvalidArgument(what + ": string lengths without their checksum");
  if (UnmaskCrc32c(Fixed32(p.data())) != crc) return InvalidArgument(what + ": string lengths checksum mismatch");
  if (UnmaskCrc32c(e.masked_crc) != Crc32cExtend(crc, p)) return ChecksumError(what);
  p.remove_prefix(4);
  ASSIGN_OR_RETURN(Tensor t, Tensor::Make(DType::kString, e.shape));
  for (size_t i = 0; i < lengths.size(); ++i) {
    if (lengths[i] > p.size()) return InvalidArgument(what + ": string " + std::to_string(i) + " runs past its value");
    t.strings()[i].assign(p.data(), lengths[i]);
    p.remove_prefix(lengths[i]);
  }
  if (!p.empty()) return InvalidArgument(what + ": " + std::to_string(p.size()) + " bytes after the last string");
  return t;
}

StatusOr<std::unique_ptr<CheckpointReader>> Finish(std::unique_ptr<BundleReader> r, std::string_view index) {
  RETURN_IF_ERROR(r->Parse(index));
  return std::unique_ptr<CheckpointReader>(std::move(r));
}

}  // namespace

StatusOr<std::unique_ptr<CheckpointReader>> OpenTensorBundle(const std::string& prefix) {
  const std::string index_path = prefix + ".index";
  ASSIGN_OR_RETURN(std::string index, ReadFileBounded(index_path, kMaxIndexFileBytes));
  return Finish(std::make_unique<BundleReader>(index_path, std::make_unique<FileShards>(prefix)), index);
}

StatusOr<std::unique_ptr<CheckpointReader>> OpenTensorBundleFromBytes(std::string index,
                                                                      std::vector<std::string> shards,
                                                                      std::string name) {
  return Finish(std::make_unique<BundleReader>(std::move(name), std::make_unique<MemoryShards>(std::move(shards))),
                index);
}

}  // namespace inferd::tf
