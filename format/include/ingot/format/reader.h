// Reads a container: maps it read-only, validates everything before use, hands out zero-copy
// views of uncompressed blobs and owned buffers of decompressed ones.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ingot/format/constants.h"
#include "ingot/format/header.h"
#include "ingot/format/status.h"

namespace ingot::format {

struct OpenOptions {
  // Check every blob's checksum (and decompress zstd blobs) while opening, as verify() does.
  bool verify_checksums = false;
};

// A blob's bytes: a view into the mapping (uncompressed) or a buffer it owns (decompressed).
class BlobBytes {
 public:
  std::span<const uint8_t> bytes() const { return owned_.empty() ? view_ : std::span<const uint8_t>(owned_); }
  bool is_view() const { return owned_.empty(); }

 private:
  friend class Container;
  std::span<const uint8_t> view_;
  std::vector<uint8_t> owned_;
};

// One blob of a tensor, with the name used in messages ("layers.0.wq/scales").
struct BlobRef {
  const fb::Blob* blob;
  std::string what;
};

class Container {
 public:
  // Maps `path` and validates it. On failure *out is untouched and the Status names the problem.
  static Status open(const std::string& path, const OpenOptions& options, std::unique_ptr<Container>* out);
  // Validates a container already in memory; `bytes` must outlive the Container (not copied) and
  // start at an 8-byte aligned address.
  static Status open_memory(std::span<const uint8_t> bytes, const OpenOptions& options,
                            std::unique_ptr<Container>* out);
  ~Container();
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  const Header& header() const { return header_; }
  const fb::Index& index() const { return *index_; }
  uint64_t file_size() const { return file_.size(); }
  std::span<const uint8_t> file_bytes() const { return file_; }

  size_t n_tensors() const;
  const fb::Tensor& tensor(size_t i) const;
  // nullptr if there is no tensor of that name.
  const fb::Tensor* find_tensor(std::string_view name) const;

  // Bytes of one blob, decompressed if needed; optionally checks its checksum first.
  Status read_blob(const fb::Blob& blob, std::string_view what, bool verify_checksum, BlobBytes* out) const;
  // Reads a tensor's data blob (checksum checked when asked).
  Status read_tensor(const fb::Tensor& tensor, bool verify_checksum, BlobBytes* out) const;

  // Every blob of every tensor, in file order.
  std::vector<BlobRef> blobs() const;

  // Checks everything open() does not: every blob's checksum, that zstd blobs decompress to their
  // raw size, and that all padding bytes are zero. Returns the first problem found. `progress`
  // (optional) sees the data-section bytes checked so far and in all after each blob; returning
  // false stops with StatusCode::interrupted (a loader's cancel button).
  Status verify(const std::function<bool(uint64_t done, uint64_t total)>& progress = nullptr) const;

 private:
  Container() = default;
  Status validate();

  std::span<const uint8_t> file_;
  void* mapping_ = nullptr;  // non-null when this Container owns an mmap of file_
  Header header_;
  const fb::Index* index_ = nullptr;
  std::unordered_map<std::string_view, uint32_t> by_name_;
};

}  // namespace ingot::format
