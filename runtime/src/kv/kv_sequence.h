// One sequence's KV cache: a page table into its model's PagePool (pages_[i] holds positions
// [i·P, (i+1)·P), P = page_size) and the number of positions it holds. Invariant between calls:
// pages_.size() == ceil(length() / P). Growing is two steps so that a batch of several
// sequences can be all-or-nothing: pages_to_grow() for each, PagePool::take() of the sum at
// once, then grow() with those pages in hand (it cannot fail).
#pragma once

#include <vector>

#include "kv/page_pool.h"

namespace ingot::runtime {

class KvSequence {
 public:
  explicit KvSequence(PagePool& pool) : pool_(&pool) {}
  ~KvSequence() { clear(); }
  KvSequence(const KvSequence&) = delete;
  KvSequence& operator=(const KvSequence&) = delete;

  PagePool& pool() const { return *pool_; }
  size_t length() const { return length_; }
  const std::vector<PageId>& pages() const { return pages_; }

  // Pages that growing to n positions takes: new pages past the table, plus a copy of the last
  // page when it is shared (another sequence holds it) and positions [length, n) start inside it.
  size_t pages_to_grow(size_t n) const;
  // Makes positions [length, n) writable and sets length = n, taking what it needs from `spare`
  // (at least pages_to_grow(n) pages from PagePool::take): new pages are appended, a shared last
  // page is copied into one of them (copy-on-write) and loses this sequence's reference.
  void grow(size_t n, std::vector<PageId>* spare);
  // Forgets positions [n, length) (no-op when n >= length) and gives back the pages past them.
  void truncate(size_t n);
  void clear() { truncate(0); }
  // Becomes a copy of `src` that shares every page of it (no copy until one of them writes).
  // Same pool only.
  void fork_from(const KvSequence& src);

  // Position `pos` (< length) of `layer`: kv_dim keys / values in the pool's dtype.
  uint8_t* k_row(size_t layer, size_t pos) const { return row(layer, 0, pos); }
  uint8_t* v_row(size_t layer, size_t pos) const { return row(layer, 1, pos); }

 private:
  uint8_t* row(size_t layer, size_t kv, size_t pos) const {
    const size_t p = pool_->shape().page_size;
    return pool_->row(pages_[pos / p], layer, kv, pos % p);
  }

  PagePool* pool_;
  std::vector<PageId> pages_;
  size_t length_ = 0;
};

}  // namespace ingot::runtime
