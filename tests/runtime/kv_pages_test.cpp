// The KV page pool and page tables on their own (no model): taking pages, exhaustion, fork with
// copy-on-write, truncation (reset) and free, in every order. Every check compares the pages'
// contents with a plain per-sequence copy of what was written (the shadow), so a page shared
// or reused by mistake shows up as a wrong value. Run under ASan too (build with INGOT_SANITIZE).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "kv/kv_sequence.h"

namespace ingot::runtime {
namespace {

constexpr size_t kLayers = 2, kKvDim = 3, kPage = 4;

// The value written at (sequence tag, layer, k/v, position, component); distinct everywhere.
float value(int tag, size_t layer, size_t kv, size_t pos, size_t i) {
  return float(tag * 100000 + int(layer) * 10000 + int(kv) * 1000 + int(pos) * 10 + int(i));
}

// A sequence and what it must hold: shadow[pos][layer][kv][i].
struct Tracked {
  std::unique_ptr<KvSequence> seq;
  std::vector<float> shadow;  // (length, n_layer, 2, kv_dim)
};

class Harness {
 public:
  explicit Harness(size_t max_pages, KvDtype dtype = KvDtype::f32)
      : pool_({kLayers, kKvDim, kPage, dtype}, max_pages) {}

  PagePool& pool() { return pool_; }
  Tracked& seq(int tag) {
    Tracked& t = seqs_[tag];
    if (!t.seq) t.seq = std::make_unique<KvSequence>(pool_);
    return t;
  }

  // Appends n positions written with `tag`'s values. Returns false, changing nothing, when the
  // pool cannot supply the pages.
  bool append(int tag, size_t n) {
    Tracked& t = seq(tag);
    const size_t len = t.seq->length();
    std::vector<PageId> spare;
    if (!pool_.take(t.seq->pages_to_grow(len + n), &spare)) return false;
    t.seq->grow(len + n, &spare);
    EXPECT_TRUE(spare.empty());
    for (size_t p = len; p < len + n; ++p) {
      for (size_t l = 0; l < kLayers; ++l) {
        for (size_t kv = 0; kv < 2; ++kv) {
          uint8_t* row = kv == 0 ? t.seq->k_row(l, p) : t.seq->v_row(l, p);
          for (size_t i = 0; i < kKvDim; ++i) {
            const float f = value(tag, l, kv, p, i);
            std::memcpy(row + i * 4, &f, 4);
            t.shadow.push_back(f);
          }
        }
      }
    }
    return true;
  }
  void fork(int dst, int src) {
    Tracked& s = seq(src);
    Tracked& d = seq(dst);
    d.seq->fork_from(*s.seq);
    d.shadow = s.shadow;
  }
  void truncate(int tag, size_t n) {
    Tracked& t = seq(tag);
    t.seq->truncate(n);
    t.shadow.resize(std::min(t.shadow.size(), n * kLayers * 2 * kKvDim));
  }
  void free(int tag) { seqs_.erase(tag); }

  // Contents equal the shadows; reference counts equal the number of tables holding each page;
  // the pool's counts add up.
  void check(const std::string& where) {
    std::map<PageId, uint32_t> holders;
    for (auto& [tag, t] : seqs_) {
      const KvSequence& s = *t.seq;
      ASSERT_EQ(s.length() * kLayers * 2 * kKvDim, t.shadow.size()) << where;
      ASSERT_EQ(s.pages().size(), (s.length() + kPage - 1) / kPage) << where;
      for (PageId id : s.pages()) ++holders[id];
      size_t j = 0;
      for (size_t p = 0; p < s.length(); ++p) {
        for (size_t l = 0; l < kLayers; ++l) {
          for (size_t kv = 0; kv < 2; ++kv) {
            const uint8_t* row = kv == 0 ? s.k_row(l, p) : s.v_row(l, p);
            for (size_t i = 0; i < kKvDim; ++i, ++j) {
              float f;
              std::memcpy(&f, row + i * 4, 4);
              ASSERT_EQ(f, t.shadow[j]) << where << ": sequence " << tag << " position " << p;
            }
          }
        }
      }
    }
    for (auto [id, n] : holders) ASSERT_EQ(pool_.ref_count(id), n) << where << ": page " << id;
    ASSERT_EQ(pool_.n_in_use(), holders.size()) << where;
    ASSERT_EQ(pool_.n_available(), pool_.max_pages() - holders.size()) << where;
  }

 private:
  PagePool pool_;
  std::map<int, Tracked> seqs_;
};

TEST(KvPages, GrowTakesPagesAsNeededAndTruncateGivesThemBack) {
  Harness h(8);
  ASSERT_TRUE(h.append(1, 1));
  EXPECT_EQ(h.pool().n_in_use(), 1u);
  ASSERT_TRUE(h.append(1, 3));  // fills the first page exactly
  EXPECT_EQ(h.pool().n_in_use(), 1u);
  ASSERT_TRUE(h.append(1, 1));  // crosses the boundary
  EXPECT_EQ(h.pool().n_in_use(), 2u);
  h.check("grown");
  h.truncate(1, 4);
  EXPECT_EQ(h.pool().n_in_use(), 1u);
  h.truncate(1, 0);
  EXPECT_EQ(h.pool().n_in_use(), 0u);
  h.check("reset");
}

TEST(KvPages, ExhaustionChangesNothing) {
  Harness h(3);
  ASSERT_TRUE(h.append(1, 10));  // 3 pages
  h.check("full");
  EXPECT_FALSE(h.append(1, 3)) << "10 + 3 positions need a fourth page";
  EXPECT_FALSE(h.append(2, 1));
  h.check("after refusals");
  ASSERT_TRUE(h.append(1, 2)) << "positions 10 and 11 fit in the third page";
  h.truncate(1, 4);
  ASSERT_TRUE(h.append(2, 8));
  h.check("after reuse");
}

TEST(KvPages, ForkSharesPagesAndCopiesOnlyTheWrittenOne) {
  Harness h(8);
  ASSERT_TRUE(h.append(1, 6));  // pages: [0..4) full, [4..6) partial
  h.fork(2, 1);
  EXPECT_EQ(h.pool().n_in_use(), 2u) << "a fork takes no page";
  h.check("forked");
  ASSERT_TRUE(h.append(2, 1));  // writes into the shared partial page: copied
  EXPECT_EQ(h.pool().n_in_use(), 3u);
  ASSERT_TRUE(h.append(1, 1));  // the original is the last holder of its page: no copy
  EXPECT_EQ(h.pool().n_in_use(), 3u);
  h.check("both wrote");
  h.fork(3, 1);
  h.truncate(1, 4);  // at a page boundary: the shared full page stays shared, nothing copied
  ASSERT_TRUE(h.append(1, 2));
  h.check("truncated and regrown");
  h.free(3);
  h.free(2);
  h.free(1);
  EXPECT_EQ(h.pool().n_in_use(), 0u);
  EXPECT_EQ(h.pool().n_available(), 8u);
}

TEST(KvPages, ForkOntoItselfAndOntoASharingSequenceKeepsPages) {
  Harness h(4);
  ASSERT_TRUE(h.append(1, 5));
  h.fork(1, 1);
  h.fork(2, 1);
  h.fork(2, 1);  // already shares every page of 1
  h.fork(1, 2);
  h.check("re-forked");
  EXPECT_EQ(h.pool().n_in_use(), 2u);
}

TEST(KvPages, CopyOnWriteNeedsAPageAndFailsCleanlyWithoutOne) {
  Harness h(2);
  ASSERT_TRUE(h.append(1, 6));  // both pages
  h.fork(2, 1);
  EXPECT_FALSE(h.append(2, 1)) << "the shared partial page needs a copy and no page is free";
  h.check("refused copy");
  h.free(1);  // now 2 holds the pages alone: it writes in place
  ASSERT_TRUE(h.append(2, 2));
  h.check("in place");
}

TEST(KvPages, F16PagesHoldHalfTheBytes) {
  const PageShape f16{kLayers, kKvDim, kPage, KvDtype::f16}, f32{kLayers, kKvDim, kPage, KvDtype::f32};
  EXPECT_EQ(f16.page_bytes() * 2, f32.page_bytes());
  EXPECT_EQ(f32.page_bytes(), kLayers * 2 * kPage * kKvDim * 4);
}

// The four operations in every order (4! = 24), each on a pool small enough that exhaustion
// really happens, starting from sequences that already share pages.
TEST(KvPages, ExhaustForkResetFreeInEveryOrder) {
  std::vector<int> ops = {0, 1, 2, 3};  // exhaust, fork, reset, free
  size_t orders = 0;
  do {
    Harness h(5);
    ASSERT_TRUE(h.append(1, 7));  // 2 pages
    h.fork(2, 1);
    ASSERT_TRUE(h.append(2, 2));  // copy of page 1 → 3 pages
    std::string where = "order";
    for (int op : ops) where += " " + std::to_string(op);
    for (int op : ops) {
      switch (op) {
        case 0:  // take what is left, then be refused
          while (h.append(3, 1)) {
          }
          EXPECT_EQ(h.pool().n_available(), 0u) << where;
          EXPECT_FALSE(h.append(5, 1)) << where << ": a new sequence needs a page";
          break;
        case 1: h.fork(4, 2); break;
        case 2: h.truncate(1, 3); break;
        case 3: h.free(2); break;
      }
      h.check(where + " after op " + std::to_string(op));
    }
    for (int tag : {1, 2, 3, 4, 5}) h.free(tag);
    EXPECT_EQ(h.pool().n_in_use(), 0u) << where;
    ++orders;
  } while (std::next_permutation(ops.begin(), ops.end()));
  EXPECT_EQ(orders, 24u);
}

// Random operations against the shadow: 2000 steps over 6 sequences and a 12-page pool.
TEST(KvPages, RandomOperationsKeepContentsAndCounts) {
  std::mt19937 rng(15);
  Harness h(12);
  for (int step = 0; step < 2000; ++step) {
    const int a = int(rng() % 6), b = int(rng() % 6);
    switch (rng() % 5) {
      case 0:
      case 1: {
        const size_t before = h.pool().n_available();
        if (!h.append(a, 1 + rng() % 9)) {
          ASSERT_EQ(h.pool().n_available(), before) << "step " << step;
        }
        break;
      }
      case 2: h.fork(a, b); break;
      case 3: h.truncate(a, rng() % 20); break;
      case 4: h.free(a); break;
    }
    h.check("step " + std::to_string(step));
  }
}

// A fork taken at a page boundary shares only full pages: neither side copies anything when it
// grows (each takes a fresh page). A fork taken mid-page shares a partly filled last page: the
// first of the two to write copies it, the other then writes in place. Then the source keeps
// growing over several pages while the fork grows too, and both keep their own contents.
TEST(KvPages, ForkAtABoundaryAndMidPageWhileTheSourceKeepsGrowing) {
  for (size_t len : {size_t{2 * kPage}, size_t{2 * kPage + 1}, size_t{2 * kPage - 1}}) {
    for (bool source_first : {true, false}) {
      const std::string where = "fork at " + std::to_string(len) + (source_first ? ", source writes first" : ", fork writes first");
      Harness h(16);
      ASSERT_TRUE(h.append(1, len));
      const size_t pages = (len + kPage - 1) / kPage;
      h.fork(2, 1);
      ASSERT_EQ(h.pool().n_in_use(), pages) << where;
      const bool boundary = len % kPage == 0;
      ASSERT_TRUE(h.append(source_first ? 1 : 2, 1)) << where;
      // At a boundary the writer takes one new page; mid-page it copies the shared last page.
      EXPECT_EQ(h.pool().n_in_use(), pages + 1) << where;
      ASSERT_TRUE(h.append(source_first ? 2 : 1, 1)) << where;
      // The other side: a new page at a boundary; mid-page the last page is its own now.
      EXPECT_EQ(h.pool().n_in_use(), boundary ? pages + 2 : pages + 1) << where;
      h.check(where + ": one position each");
      // The source grows over three more pages, the fork by a few positions, interleaved.
      for (int k = 0; k < 6; ++k) {
        ASSERT_TRUE(h.append(1, kPage / 2 + 1)) << where;
        if (k % 2 == 0) ASSERT_TRUE(h.append(2, 1)) << where;
        h.check(where + ": interleaved step " + std::to_string(k));
      }
      // A second fork of the grown source, then the source is reset and regrown: the forks keep
      // the old contents.
      h.fork(3, 1);
      h.truncate(1, 0);
      ASSERT_TRUE(h.append(1, 3 * kPage + 1));
      h.check(where + ": source reset and regrown");
      h.free(1);
      h.free(2);
      h.check(where + ": only the second fork");
      h.free(3);
      EXPECT_EQ(h.pool().n_in_use(), 0u) << where;
    }
  }
}

// Exhaustion while a fork shares the source's partly filled page: the source's next write needs a
// copy and is refused, changing nothing; once the fork is freed it writes in place; once the
// fork is reset (truncated to 0) instead, the same.
TEST(KvPages, ExhaustedWhileSharingThenFreeOrResetTheFork) {
  for (bool reset : {false, true}) {
    Harness h(3);
    ASSERT_TRUE(h.append(1, 2 * kPage + 1));  // all 3 pages, the last partly filled
    h.fork(2, 1);
    EXPECT_FALSE(h.append(1, 1)) << "the shared last page needs a copy and no page is free";
    EXPECT_FALSE(h.append(2, 1));
    h.check("refused both");
    if (reset) {
      h.truncate(2, 0);
    } else {
      h.free(2);
    }
    ASSERT_TRUE(h.append(1, kPage - 1)) << "the source now holds its last page alone";
    EXPECT_EQ(h.pool().n_in_use(), 3u);
    EXPECT_FALSE(h.append(1, 1)) << "a fourth page";
    h.check(reset ? "after reset" : "after free");
  }
}

TEST(KvPages, ForkAcrossPoolsIsRefused) {
  PagePool p1({kLayers, kKvDim, kPage, KvDtype::f32}, 2), p2({kLayers, kKvDim, kPage, KvDtype::f32}, 2);
  KvSequence a(p1), b(p2);
  EXPECT_THROW(b.fork_from(a), std::invalid_argument);
}

}  // namespace
}  // namespace ingot::runtime
