#include "kv/page_pool.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ingot::runtime {

namespace {
constexpr size_t kSlabBytes = size_t{4} << 20;  // memory is taken 4 MiB at a time (at least a page)
}

const char* kv_dtype_name(KvDtype t) { return t == KvDtype::f16 ? "f16" : "f32"; }

PagePool::PagePool(const PageShape& shape, size_t max_pages) : shape_(shape), max_pages_(max_pages) {
  if (max_pages == 0 || shape.page_bytes() == 0) throw std::invalid_argument("PagePool: empty pool or page");
  pages_per_slab_ = std::clamp<size_t>(kSlabBytes / shape.page_bytes(), 1, max_pages);
  slabs_.resize((max_pages + pages_per_slab_ - 1) / pages_per_slab_);
}

size_t PagePool::n_available() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return free_.size() + (max_pages_ - refs_.size());
}

size_t PagePool::n_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return refs_.size() - free_.size();
}

bool PagePool::take(size_t n, std::vector<PageId>* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (n > free_.size() + (max_pages_ - refs_.size())) return false;
  // Memory first (it may throw bad_alloc), so that a failure leaves the pool as it was.
  const size_t n_new = n > free_.size() ? n - free_.size() : 0;
  for (size_t id = refs_.size(); id < refs_.size() + n_new; ++id) {
    std::unique_ptr<uint8_t[]>& slab = slabs_[id / pages_per_slab_];
    if (!slab) slab.reset(new uint8_t[pages_per_slab_ * shape_.page_bytes()]);
  }
  out->reserve(out->size() + n);
  refs_.reserve(refs_.size() + n_new);
  for (size_t i = 0; i < n; ++i) {
    PageId id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = PageId(refs_.size());
      refs_.push_back(0);
    }
    refs_[id] = 1;
    out->push_back(id);
  }
  return true;
}

void PagePool::retain(PageId id) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++refs_.at(id);
}

void PagePool::release(PageId id) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint32_t& r = refs_.at(id);
  if (r == 0) throw std::logic_error("PagePool::release: page without references");
  if (--r == 0) free_.push_back(id);
}

void PagePool::release(std::span<const PageId> ids) {
  for (PageId id : ids) release(id);
}

uint32_t PagePool::ref_count(PageId id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return id < refs_.size() ? refs_[id] : 0;
}

uint8_t* PagePool::data(PageId id) const {
  return slabs_[id / pages_per_slab_].get() + (id % pages_per_slab_) * shape_.page_bytes();
}

void PagePool::copy(PageId from, PageId to) const {
  std::memcpy(data(to), data(from), shape_.page_bytes());
  if (copy_hook_) copy_hook_(from, to);
}

}  // namespace ingot::runtime
