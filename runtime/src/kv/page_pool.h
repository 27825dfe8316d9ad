// A pool of fixed-size KV pages for one model: every page holds `page_size` positions of every
// layer's keys and values. Pages are reference counted so that forked sequences can share a
// prefix (kv_sequence.h does the copy-on-write). Memory is taken a slab at a time as pages are
// first needed, never past the budget; a page given back is reused, never returned to the OS.
// Thread-safe: sessions on different threads share their model's pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace ingot::runtime {

enum class KvDtype { f16, f32 };

const char* kv_dtype_name(KvDtype t);

struct PageShape {
  size_t n_layer = 0;
  size_t kv_dim = 0;      // n_head_kv * head_dim
  size_t page_size = 16;  // positions per page
  KvDtype dtype = KvDtype::f16;

  size_t value_bytes() const { return dtype == KvDtype::f16 ? 2 : 4; }
  size_t row_bytes() const { return kv_dim * value_bytes(); }  // one position of one layer's k (or v)
  // A page: (n_layer, 2 [k, v], page_size, kv_dim) values.
  size_t page_bytes() const { return n_layer * 2 * page_size * row_bytes(); }
};

using PageId = uint32_t;

class PagePool {
 public:
  // max_pages >= 1.
  PagePool(const PageShape& shape, size_t max_pages);
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;

  const PageShape& shape() const { return shape_; }
  size_t max_pages() const { return max_pages_; }
  size_t n_available() const;  // pages take() can still hand out (free ones + room in the budget)
  size_t n_in_use() const;     // pages with at least one reference

  // Appends `n` pages (reference count 1) to *out, all or none: false, taking nothing, when
  // fewer than `n` are available. Contents of a fresh page are unspecified.
  bool take(size_t n, std::vector<PageId>* out);
  void retain(PageId id);
  // Drops one reference; a page without references goes back to the free list.
  void release(PageId id);
  void release(std::span<const PageId> ids);
  uint32_t ref_count(PageId id) const;

  // The page's bytes: (n_layer, 2, page_size, kv_dim) of shape().dtype. Valid while referenced.
  uint8_t* data(PageId id) const;
  // One position's keys (kv = 0) or values (kv = 1) of one layer: kv_dim values.
  uint8_t* row(PageId id, size_t layer, size_t kv, size_t slot) const {
    return data(id) + ((layer * 2 + kv) * shape_.page_size + slot) * shape_.row_bytes();
  }
  void copy(PageId from, PageId to) const;
  // Called after copy(from, to): a backend that mirrors pages in device memory copies its mirror
  // there too (copy-on-write of forked sequences). Set once, before any sequence uses the pool.
  void set_copy_hook(std::function<void(PageId from, PageId to)> hook) { copy_hook_ = std::move(hook); }

 private:
  PageShape shape_;
  size_t max_pages_;
  size_t pages_per_slab_;
  // Fixed length (max_pages / pages_per_slab rounded up); entries are set once, under the mutex,
  // before any page of the slab is handed out, so readers of their own pages need no lock.
  std::vector<std::unique_ptr<uint8_t[]>> slabs_;
  mutable std::mutex mutex_;
  std::vector<uint32_t> refs_;   // (pages created so far)
  std::vector<PageId> free_;     // created pages without references
  std::function<void(PageId, PageId)> copy_hook_;
};

}  // namespace ingot::runtime
