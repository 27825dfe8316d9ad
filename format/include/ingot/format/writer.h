// Writes a container: streams blobs as they are produced (memory bounded by the largest blob
// handed in, not by the model), builds the index at the end, and publishes the file atomically
// (temporary file in the target directory, fsync, rename). On any error, on abort() or on
// SIGINT/SIGTERM the temporary files vanish and an existing output stays untouched.
// Same content in the same order gives identical bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "ingot/format/constants.h"
#include "ingot/format/status.h"

namespace ingot::format {

// What the writer has done so far, for progress lines.
struct WriterProgress {
  const char* stage;   // "tensor": a tensor's blobs are on disk; "publish": the complete file is
                       // synced under its temporary name and about to be renamed into place
  uint64_t n_tensors;  // tensors written so far
  uint64_t data_bytes; // bytes of the data section so far
};

struct WriterOptions {
  uint32_t alignment = kDefaultAlignment;  // power of two in [kMinAlignment, kMaxAlignment]
  // Try zstd on every in-memory blob and keep the result when it saves at least min_saving of
  // the blob's size. Compressed blobs cost a decompression (and a copy) at load.
  bool compress = false;
  int zstd_level = 3;
  double min_saving = 0.05;
  std::function<void(const WriterProgress&)> on_progress{};  // optional
};

// A blob's bytes: a span in memory, or `size` bytes produced in order by `fill` (fill(offset,
// out) writes bytes [offset, offset + out.size())). Chunked sources are stored uncompressed.
class BlobSource {
 public:
  using Fill = std::function<void(uint64_t offset, std::span<uint8_t> out)>;
  BlobSource(std::span<const uint8_t> bytes) : bytes_(bytes), size_(bytes.size()) {}  // NOLINT: implicit
  template <typename T>
  static BlobSource of(std::span<const T> values) {
    return BlobSource(std::as_bytes(values));
  }
  static BlobSource chunked(uint64_t size, Fill fill) {
    BlobSource s{std::span<const uint8_t>()};
    s.size_ = size;
    s.fill_ = std::move(fill);
    return s;
  }
  uint64_t size() const { return size_; }
  bool in_memory() const { return !fill_; }
  std::span<const uint8_t> bytes() const { return bytes_; }
  const Fill& fill() const { return fill_; }

 private:
  explicit BlobSource(std::span<const std::byte> b)
      : bytes_(reinterpret_cast<const uint8_t*>(b.data()), b.size()), size_(b.size()) {}
  std::span<const uint8_t> bytes_;
  uint64_t size_ = 0;
  Fill fill_;
};

struct TensorDesc {
  std::string name;
  DType dtype = DType::F32;
  std::vector<uint64_t> shape;  // outermost first; a linear weight is (out, in)
  Layout layout = Layout::DenseRowMajor;
};

struct QuantDesc {
  QuantMethod method = QuantMethod::GPTQ;
  uint8_t bits = 4;
  int32_t group_size = 128;  // -1: one group per output channel
  bool symmetric = true;
  bool act_order = false;
  bool static_groups = false;
  DType scales_dtype = DType::F16;
  BlobSource scales{std::span<const uint8_t>()};  // (n_groups, rows)
  DType zeros_dtype = DType::Q4;
  std::optional<BlobSource> zeros;                // (n_groups, rows)
  std::optional<BlobSource> perm;                 // (cols) int32
  std::optional<BlobSource> input_order;          // (cols) int32, layout GptqPackedKSorted only
};

class Writer {
 public:
  // Prepares to write `path`; nothing appears at `path` until finish() succeeds.
  static Status create(const std::string& path, const WriterOptions& options, std::unique_ptr<Writer>* out);
  ~Writer();  // an unfinished writer aborts
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void set_config(fb::ModelConfigT config);
  void set_tokenizer(fb::TokenizerT tokenizer);
  void set_provenance(fb::ProvenanceT provenance);
  Status add_metadata(std::string key, std::string value);

  // Checks sizes against dtype x shape (layout.h) and streams the blobs to disk now.
  Status add_tensor(const TensorDesc& tensor, const BlobSource& data, const QuantDesc* quant = nullptr);

  // Writes header and index, then the data; fsyncs and renames over `path`.
  Status finish();
  // Drops everything written; `path` is left as it was.
  void abort();

 private:
  Writer() = default;
  Status write_blob(const BlobSource& src, std::string_view what, fb::Blob* out);
  Status write_at(uint64_t offset, std::span<const uint8_t> bytes);
  Status fail_with(Status s);

  std::string path_;
  std::string dir_;
  WriterOptions options_;
  int spill_fd_ = -1;          // the data section as it grows; an unlinked file in the target dir
  uint64_t spill_size_ = 0;    // end of the last blob in the data section
  fb::IndexT index_;
  std::unordered_set<std::string> names_;
  std::unordered_set<std::string> metadata_keys_;
  Status error_;               // first error; once set every call returns it
  bool done_ = false;
};

}  // namespace ingot::format
