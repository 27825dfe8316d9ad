#include "kv/kv_sequence.h"

#include <stdexcept>

namespace ingot::runtime {

size_t KvSequence::pages_to_grow(size_t n) const {
  if (n <= length_) return 0;
  const size_t p = pool_->shape().page_size;
  const size_t have = pages_.size(), want = (n + p - 1) / p;
  const bool copy_last = length_ % p != 0 && pool_->ref_count(pages_.back()) > 1;
  return (want - have) + (copy_last ? 1 : 0);
}

void KvSequence::grow(size_t n, std::vector<PageId>* spare) {
  if (n <= length_) return;
  const size_t p = pool_->shape().page_size;
  const auto next = [&] {
    // pages_to_grow() counted an upper bound (docs/runtime.md, Pages); running short means a
    // thread forked this sequence while it grew, which the one-thread-per-sequence rule forbids.
    if (spare->empty() && !pool_->take(1, spare)) {
      throw std::runtime_error("KV cache: a sequence was forked on another thread while it grew (one thread per sequence)");
    }
    const PageId id = spare->back();
    spare->pop_back();
    return id;
  };
  if (length_ % p != 0 && pool_->ref_count(pages_.back()) > 1) {
    const PageId own = next();
    pool_->copy(pages_.back(), own);
    pool_->release(pages_.back());
    pages_.back() = own;
  }
  const size_t want = (n + p - 1) / p;
  while (pages_.size() < want) pages_.push_back(next());
  length_ = n;
}

void KvSequence::truncate(size_t n) {
  if (n >= length_) return;
  const size_t p = pool_->shape().page_size;
  const size_t keep = (n + p - 1) / p;
  for (size_t i = keep; i < pages_.size(); ++i) pool_->release(pages_[i]);
  pages_.resize(keep);
  length_ = n;
}

void KvSequence::fork_from(const KvSequence& src) {
  if (&src == this) return;
  if (src.pool_ != pool_) throw std::invalid_argument("KvSequence::fork_from: another model's pool");
  for (PageId id : src.pages_) pool_->retain(id);  // before clear(): src may share pages with this
  clear();
  pages_ = src.pages_;
  length_ = src.length_;
}

}  // namespace ingot::runtime
