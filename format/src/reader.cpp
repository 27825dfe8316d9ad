#include "ingot/format/reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_decompressBound (exported by libzstd since 1.4)
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "ingot/format/layout.h"
#include "validate.h"

namespace ingot::format {

namespace {

// zstd cannot expand input by more than this factor (an RLE block is 4 bytes for 128 KiB); a
// larger claimed raw size is a lie that would make us allocate for nothing.
constexpr uint64_t kMaxZstdRatio = uint64_t{1} << 16;

struct Extent {
  uint64_t offset;
  uint64_t size;
  std::string what;
};

std::string blob_label(std::string_view tensor, const char* part) {
  std::string s(tensor);
  if (part[0] != '\0') (s += '/') += part;
  return s;
}

Status check_blob(const Header& h, const fb::Blob& b, const std::string& what, uint64_t expected_raw) {
  if (b.raw_size() != expected_raw) {
    return fail(StatusCode::invalid_index, "blob '", what, "': raw_size ", b.raw_size(), " but dtype x shape needs ",
                expected_raw, " bytes");
  }
  switch (b.compression()) {
    case Compression::None:
      if (b.size() != b.raw_size()) {
        return fail(StatusCode::invalid_index, "blob '", what, "': uncompressed but size ", b.size(),
                    " != raw_size ", b.raw_size());
      }
      break;
    case Compression::Zstd: {
      uint64_t bound = 0;
      if (b.size() == 0 || (!__builtin_mul_overflow(b.size(), kMaxZstdRatio, &bound) && b.raw_size() > bound) ||
          b.raw_size() > kMaxBlobRawSize) {
        return fail(StatusCode::invalid_index, "blob '", what, "': zstd size ", b.size(), " cannot hold raw_size ",
                    b.raw_size());
      }
      break;
    }
    default:
      return fail(StatusCode::invalid_index, "blob '", what, "': unknown compression ", int(b.compression()));
  }
  if (b.offset() % h.alignment != 0) {
    return fail(StatusCode::invalid_index, "blob '", what, "': offset ", b.offset(),
                " is not a multiple of the alignment ", h.alignment);
  }
  uint64_t end = 0;
  if (__builtin_add_overflow(b.offset(), b.size(), &end) || end > h.data_size) {
    return fail(StatusCode::invalid_index, "blob '", what, "': [offset ", b.offset(), ", size ", b.size(),
                "] ends past the data section (", h.data_size, " bytes)");
  }
  return Status::success();
}

Status check_zero(std::span<const uint8_t> bytes, uint64_t file_offset, const char* where) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != 0) {
      // Padding is covered by no checksum; zero is its check.
      return fail(StatusCode::checksum_mismatch, "padding byte at file offset ", file_offset + i, " (", where,
                  ") is not zero");
    }
  }
  return Status::success();
}

}  // namespace

Container::~Container() {
  if (mapping_ != nullptr) munmap(mapping_, file_.size());
}

Status Container::open(const std::string& path, const OpenOptions& options, std::unique_ptr<Container>* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(StatusCode::io_error, "cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return fail(StatusCode::io_error, "cannot stat '", path, "': ", std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return fail(StatusCode::io_error, "'", path, "' is not a regular file");
  }
  if (st.st_size == 0) {
    close(fd);
    return fail(StatusCode::bad_magic, "'", path, "' is empty, not an .ingot file");
  }
  void* p = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  close(fd);
  if (p == MAP_FAILED) return fail(StatusCode::io_error, "cannot map '", path, "': ", std::strerror(err));

  std::unique_ptr<Container> c(new Container());
  c->mapping_ = p;
  c->file_ = {static_cast<const uint8_t*>(p), size_t(st.st_size)};
  Status s = c->validate();
  if (s.ok() && options.verify_checksums) s = c->verify();
  if (!s.ok()) return Status(s.code(), "'" + path + "': " + s.message());
  *out = std::move(c);
  return Status::success();
}

Status Container::open_memory(std::span<const uint8_t> bytes, const OpenOptions& options,
                              std::unique_ptr<Container>* out) {
  if (reinterpret_cast<uintptr_t>(bytes.data()) % kIndexAlignment != 0) {
    return fail(StatusCode::invalid_argument, "open_memory: the buffer must be ", kIndexAlignment,
                "-byte aligned (the index holds 8-byte fields)");
  }
  std::unique_ptr<Container> c(new Container());
  c->file_ = bytes;
  INGOT_RETURN_IF_ERROR(c->validate());
  if (options.verify_checksums) INGOT_RETURN_IF_ERROR(c->verify());
  *out = std::move(c);
  return Status::success();
}

Status Container::validate() {
  INGOT_RETURN_IF_ERROR(decode_header(file_, &header_));
  const Header& h = header_;
  const std::span<const uint8_t> index = file_.subspan(h.index_offset, h.index_size);
  const uint64_t sum = checksum(index);
  if (sum != h.index_checksum) {
    return fail(StatusCode::corrupt_index, "index checksum mismatch (stored ", std::hex, h.index_checksum,
                ", computed ", sum, "): the index is corrupt");
  }
  if (index.size() < 8 || !flatbuffers::BufferHasIdentifier(index.data(), kFileIdentifier)) {
    return fail(StatusCode::corrupt_index, "index lacks the FlatBuffers identifier ", kFileIdentifier);
  }
  // The index start is 8-aligned in the file and the mapping is page-aligned, so the buffer is
  // aligned as FlatBuffers expects; the Verifier checks every offset against its size.
  flatbuffers::Verifier::Options vopts;
  vopts.max_depth = 64;
  vopts.max_tables = 50'000'000;
  vopts.check_alignment = true;
  flatbuffers::Verifier verifier(index.data(), index.size(), vopts);
  if (!fb::VerifyIndexBuffer(verifier)) {
    return fail(StatusCode::corrupt_index, "the FlatBuffers index fails verification");
  }
  index_ = fb::GetIndex(index.data());

  INGOT_RETURN_IF_ERROR(detail::check_model_fields(*index_));

  std::vector<Extent> extents;
  by_name_.clear();
  const size_t n = n_tensors();
  by_name_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const fb::Tensor& t = tensor(i);
    const std::string_view name = t.name()->string_view();
    if (name.empty()) return fail(StatusCode::invalid_index, "tensor ", i, " has an empty name");
    if (!by_name_.emplace(name, uint32_t(i)).second) {
      return fail(StatusCode::invalid_index, "tensor name '", name, "' appears twice");
    }
    // FlatBuffers 2.0.8's Verifier checks a vector's length word, not the alignment of 8-byte
    // elements: a crafted offset could make every read of the shape misaligned.
    if (t.shape() != nullptr && reinterpret_cast<uintptr_t>(t.shape()->data()) % alignof(uint64_t) != 0) {
      return fail(StatusCode::invalid_index, "tensor '", name, "': shape vector is misaligned");
    }
    const std::span<const uint64_t> shape =
        t.shape() == nullptr ? std::span<const uint64_t>() : std::span(t.shape()->data(), t.shape()->size());
    const fb::Quantization* q = t.quant();
    QuantShape qs;
    if (q != nullptr) {
      if (q->scales() == nullptr) return fail(StatusCode::invalid_index, "tensor '", name, "': quantized without scales");
      qs = {q->method(), q->bits(), q->group_size(), q->scales_dtype(), q->zeros_dtype(), q->zeros() != nullptr,
            q->perm() != nullptr, q->input_order() != nullptr};
    }
    TensorBytes expect;
    INGOT_RETURN_IF_ERROR(tensor_bytes(name, t.dtype(), t.layout(), shape, q ? &qs : nullptr, &expect));

    const std::pair<const fb::Blob*, std::pair<const char*, uint64_t>> parts[] = {
        {t.data(), {"", expect.data}},
        {q ? q->scales() : nullptr, {"scales", expect.scales}},
        {q ? q->zeros() : nullptr, {"zeros", expect.zeros}},
        {q ? q->perm() : nullptr, {"perm", expect.perm}},
        {q ? q->input_order() : nullptr, {"input_order", expect.input_order}},
    };
    for (const auto& [blob, part] : parts) {
      if (blob == nullptr) continue;
      std::string what = blob_label(name, part.first);
      INGOT_RETURN_IF_ERROR(check_blob(h, *blob, what, part.second));
      extents.push_back({blob->offset(), blob->size(), std::move(what)});
    }
  }
  std::sort(extents.begin(), extents.end(), [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
  for (size_t i = 1; i < extents.size(); ++i) {
    if (extents[i - 1].offset + extents[i - 1].size > extents[i].offset) {
      return fail(StatusCode::invalid_index, "blobs '", extents[i - 1].what, "' and '", extents[i].what, "' overlap");
    }
  }

  if (index_->metadata() != nullptr) {
    std::unordered_map<std::string_view, int> keys;
    for (const fb::KeyValue* kv : *index_->metadata()) {
      if (!keys.emplace(kv->key()->string_view(), 0).second) {
        return fail(StatusCode::invalid_index, "metadata key '", kv->key()->string_view(), "' appears twice");
      }
    }
  }
  return Status::success();
}

size_t Container::n_tensors() const { return index_->tensors() == nullptr ? 0 : index_->tensors()->size(); }

const fb::Tensor& Container::tensor(size_t i) const { return *index_->tensors()->Get(flatbuffers::uoffset_t(i)); }

const fb::Tensor* Container::find_tensor(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensor(it->second);
}

std::vector<BlobRef> Container::blobs() const {
  std::vector<BlobRef> out;
  for (size_t i = 0; i < n_tensors(); ++i) {
    const fb::Tensor& t = tensor(i);
    const std::string_view name = t.name()->string_view();
    out.push_back({t.data(), blob_label(name, "")});
    if (const fb::Quantization* q = t.quant()) {
      if (q->scales()) out.push_back({q->scales(), blob_label(name, "scales")});
      if (q->zeros()) out.push_back({q->zeros(), blob_label(name, "zeros")});
      if (q->perm()) out.push_back({q->perm(), blob_label(name, "perm")});
      if (q->input_order()) out.push_back({q->input_order(), blob_label(name, "input_order")});
    }
  }
  std::sort(out.begin(), out.end(), [](const BlobRef& a, const BlobRef& b) { return a.blob->offset() < b.blob->offset(); });
  return out;
}

Status Container::read_blob(const fb::Blob& blob, std::string_view what, bool verify_checksum,
                            BlobBytes* out) const {
  // Bounds were checked by validate() for every blob the index holds.
  const std::span<const uint8_t> stored = file_.subspan(header_.data_offset + blob.offset(), blob.size());
  if (verify_checksum) {
    const uint64_t sum = checksum(stored);
    if (sum != blob.checksum()) {
      return fail(StatusCode::checksum_mismatch, "blob '", what, "': checksum mismatch (stored ", std::hex,
                  blob.checksum(), ", computed ", sum, ")");
    }
  }
  BlobBytes result;
  if (blob.compression() == Compression::None) {
    result.view_ = stored;
    *out = std::move(result);
    return Status::success();
  }
  const unsigned long long content = ZSTD_getFrameContentSize(stored.data(), stored.size());
  if (content == ZSTD_CONTENTSIZE_ERROR) {
    return fail(StatusCode::decompression_failed, "blob '", what, "': not a zstd frame");
  }
  if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != blob.raw_size()) {
    return fail(StatusCode::decompression_failed, "blob '", what, "': zstd frame declares ", content,
                " bytes, the index says ", blob.raw_size());
  }
  // Block headers bound what the frames can produce: refuse before allocating for a lie.
  const unsigned long long bound = ZSTD_decompressBound(stored.data(), stored.size());
  if (bound == ZSTD_CONTENTSIZE_ERROR || bound < blob.raw_size()) {
    return fail(StatusCode::decompression_failed, "blob '", what, "': its zstd frames cannot produce ",
                blob.raw_size(), " bytes");
  }
  try {
    result.owned_.resize(blob.raw_size());
  } catch (const std::bad_alloc&) {
    return fail(StatusCode::out_of_memory, "blob '", what, "': cannot allocate ", blob.raw_size(),
                " bytes to decompress it");
  }
  const size_t got = ZSTD_decompress(result.owned_.data(), result.owned_.size(), stored.data(), stored.size());
  if (ZSTD_isError(got)) {
    return fail(StatusCode::decompression_failed, "blob '", what, "': ", ZSTD_getErrorName(got));
  }
  if (got != blob.raw_size()) {
    return fail(StatusCode::decompression_failed, "blob '", what, "': decompressed to ", got, " bytes, expected ",
                blob.raw_size());
  }
  *out = std::move(result);
  return Status::success();
}

Status Container::read_tensor(const fb::Tensor& tensor, bool verify_checksum, BlobBytes* out) const {
  return read_blob(*tensor.data(), tensor.name()->string_view(), verify_checksum, out);
}

Status Container::verify(const std::function<bool(uint64_t, uint64_t)>& progress) const {
  const Header& h = header_;
  INGOT_RETURN_IF_ERROR(check_zero(file_.subspan(h.header_size, h.index_offset - h.header_size), h.header_size,
                                   "between header and index"));
  const uint64_t index_end = h.index_offset + h.index_size;
  INGOT_RETURN_IF_ERROR(
      check_zero(file_.subspan(index_end, h.data_offset - index_end), index_end, "between index and data"));
  uint64_t cursor = 0;  // data-section offset up to which bytes are accounted for
  for (const BlobRef& ref : blobs()) {
    const fb::Blob& b = *ref.blob;
    INGOT_RETURN_IF_ERROR(check_zero(file_.subspan(h.data_offset + cursor, b.offset() - cursor),
                                     h.data_offset + cursor, "between blobs"));
    BlobBytes bytes;
    INGOT_RETURN_IF_ERROR(read_blob(b, ref.what, /*verify_checksum=*/true, &bytes));
    cursor = b.offset() + b.size();
    if (progress && !progress(cursor, h.data_size)) return fail(StatusCode::interrupted, "verification cancelled");
  }
  return check_zero(file_.subspan(h.data_offset + cursor, h.data_size - cursor), h.data_offset + cursor,
                    "after the last blob");
}

}  // namespace ingot::format
