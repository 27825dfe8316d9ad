// Bookkeeping of the CUDA backend's pinned upload ring: plain host code, tested on the host
// (tests/cuda/cuda_math_test.cpp). A step's small uploads (token ids, positions, page tables, KV
// offsets) are copied by the host into pinned memory and sent with cudaMemcpyAsync, which from
// pinned memory does not wait for the stream (from pageable memory it does). The pinned bytes of
// an upload may be written again only once the device has read them: the ring is `n_chunks`
// chunks of `chunk_bytes`; uploads take consecutive bytes of the open chunk; when one does not fit,
// the open chunk is closed (the caller records its event on the stream, after every copy taken
// from it) and the next one opened, after the caller waits for that chunk's event from its last
// use. With chunks much larger than a step's uploads that wait is for copies queued steps ago.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace ingot::cuda {

class UploadRing {
 public:
  struct Take {
    size_t chunk = 0;   // the chunk the bytes lie in
    size_t offset = 0;  // byte offset in the ring (chunk · chunk_bytes + offset in the chunk)
    // When set, the caller first records the event of chunk *close (the copies taken from it are
    // all queued), then, when `wait`, waits for the event of `chunk` (recorded when it was last
    // closed) before writing the bytes.
    std::optional<size_t> close;
    bool wait = false;
  };

  // `align`: each upload starts on a multiple of it (a power of two; 16 for vector loads).
  UploadRing(size_t n_chunks, size_t chunk_bytes, size_t align = 16)
      : chunk_bytes_(chunk_bytes), align_(align), used_(n_chunks, false) {}

  size_t bytes() const { return chunk_bytes_ * used_.size(); }

  // Where `bytes` go; nullopt when they do not fit in a chunk (the caller copies them another way).
  std::optional<Take> take(size_t bytes) {
    if (bytes > chunk_bytes_ || used_.empty()) return std::nullopt;
    Take t;
    size_t start = (fill_ + align_ - 1) & ~(align_ - 1);
    if (!open_ || start + bytes > chunk_bytes_) {
      if (open_) {
        t.close = current_;
        used_[current_] = true;
        current_ = (current_ + 1) % used_.size();
      }
      t.wait = used_[current_];
      open_ = true;
      start = 0;
    }
    t.chunk = current_;
    t.offset = current_ * chunk_bytes_ + start;
    fill_ = start + bytes;
    return t;
  }

 private:
  size_t chunk_bytes_;
  size_t align_;
  std::vector<bool> used_;  // chunk was closed at least once (its event has been recorded)
  size_t current_ = 0;
  size_t fill_ = 0;
  bool open_ = false;
};

}  // namespace ingot::cuda
