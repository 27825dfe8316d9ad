// cpu::WorkerPool and parallel_for on their own: every index exactly once, worker ids in range and
// never two at once, 1..N workers, many tiny loops, nested loops, several threads submitting to one
// pool at once, exceptions. Also run under ThreadSanitizer (label "capi": scripts/test.sh's tsan
// stage), where the atomics and futex waits of the pool are checked for races.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "cpu/threads.h"
#include "cpu/worker_pool.h"

namespace ingot::cpu {
namespace {

// Runs a loop of n on `pool` with `workers` and checks each index ran once, on a worker in range,
// and that no worker ran two iterations at the same time.
void check_loop(WorkerPool& pool, size_t n, int workers) {
  std::vector<std::atomic<int>> hits(n);
  std::vector<std::atomic<int>> busy(static_cast<size_t>(pool.size()));
  std::atomic<int> bad_worker{0}, overlap{0};
  struct Ctx {
    std::vector<std::atomic<int>>* hits;
    std::vector<std::atomic<int>>* busy;
    std::atomic<int>* bad_worker;
    std::atomic<int>* overlap;
    int workers;
  } ctx{&hits, &busy, &bad_worker, &overlap, std::min(workers, pool.size())};
  pool.run(
      n, workers,
      [](void* p, size_t i, int w) {
        Ctx& c = *static_cast<Ctx*>(p);
        if (w < 0 || w >= std::max(c.workers, 1)) {
          c.bad_worker->fetch_add(1);
          return;
        }
        if ((*c.busy)[size_t(w)].fetch_add(1) != 0) c.overlap->fetch_add(1);
        (*c.hits)[i].fetch_add(1);
        (*c.busy)[size_t(w)].fetch_sub(1);
      },
      &ctx);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i << " of " << n << ", " << workers << " workers";
  EXPECT_EQ(bad_worker.load(), 0);
  EXPECT_EQ(overlap.load(), 0) << "a worker ran two iterations at once";
}

TEST(WorkerPool, EveryIndexExactlyOnceFor1ToNWorkers) {
  for (int size : {1, 2, 3, 4, 8}) {
    WorkerPool pool(size);
    EXPECT_EQ(pool.size(), size);
    for (int workers = 1; workers <= size + 1; ++workers) {
      for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{64}, size_t{1000}}) {
        check_loop(pool, n, workers);
      }
    }
  }
}

TEST(WorkerPool, ManyTinyLoops) {
  WorkerPool pool(4);
  for (int k = 0; k < 20000; ++k) check_loop(pool, 1 + size_t(k % 5), 4);
}

TEST(WorkerPool, LoopsAfterTheWorkersFellAsleep) {
  WorkerPool pool(3);
  for (int k = 0; k < 5; ++k) {
    check_loop(pool, 100, 3);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the spin: workers block
  }
}

TEST(WorkerPool, UsesMoreThanOneWorkerWhenIterationsWait) {
  // Each iteration waits until two workers are inside at once (or gives up after a while): with
  // two workers that only happens if the pool really runs iterations in parallel.
  WorkerPool pool(2);
  std::atomic<int> inside{0}, met{0};
  struct Ctx {
    std::atomic<int>* inside;
    std::atomic<int>* met;
  } ctx{&inside, &met};
  pool.run(
      2, 2,
      [](void* p, size_t, int) {
        Ctx& c = *static_cast<Ctx*>(p);
        c.inside->fetch_add(1);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (c.inside->load() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
        if (c.inside->load() >= 2) c.met->fetch_add(1);
      },
      &ctx);
  EXPECT_EQ(met.load(), 2);
}

TEST(WorkerPool, SeveralThreadsSubmitToOnePool) {
  WorkerPool pool(3);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 300; ++k) {
        const size_t n = 1 + size_t((k * 7 + t) % 200);
        std::vector<std::atomic<int>> hits(n);
        pool.run(
            n, 1 + (k + t) % 3, [](void* p, size_t i, int) { (*static_cast<std::vector<std::atomic<int>>*>(p))[i]++; },
            &hits);
        for (size_t i = 0; i < n; ++i) {
          if (hits[i].load() != 1) failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(WorkerPool, NestedLoopsRunInline) {
  WorkerPool pool(3);
  ScopedPool scope(&pool);
  set_threads(0);
  EXPECT_EQ(threads(), 3);
  constexpr size_t kOuter = 17, kInner = 13;
  std::vector<std::atomic<int>> hits(kOuter * kInner);
  std::atomic<int> inner_threads_seen{0}, bad_worker{0};
  parallel_for(kOuter, true, [&](size_t i, int) {
    if (threads() != 1) inner_threads_seen.fetch_add(1);
    parallel_for(kInner, true, [&](size_t j, int w) {
      if (w != 0) bad_worker.fetch_add(1);
      hits[i * kInner + j]++;
    });
  });
  for (size_t k = 0; k < hits.size(); ++k) ASSERT_EQ(hits[k].load(), 1) << k;
  EXPECT_EQ(inner_threads_seen.load(), 0) << "threads() inside a loop body is 1";
  EXPECT_EQ(bad_worker.load(), 0);
  EXPECT_EQ(threads(), 3) << "the caller's setting is back after the loop";
}

TEST(WorkerPool, ExceptionStopsTheLoopAndReachesTheCaller) {
  WorkerPool pool(3);
  ScopedPool scope(&pool);
  for (int rep = 0; rep < 50; ++rep) {
    std::atomic<size_t> ran{0};
    EXPECT_THROW(parallel_for(size_t{10000}, true,
                              [&](size_t i, int) {
                                ran++;
                                if (i == 5) throw std::runtime_error("iteration 5");
                              }),
                 std::runtime_error);
    EXPECT_LT(ran.load(), size_t{10000}) << "iterations after the throw were not all started";
    // The pool is usable afterwards.
    std::atomic<size_t> sum{0};
    parallel_for(size_t{100}, true, [&](size_t i, int) { sum += i; });
    EXPECT_EQ(sum.load(), size_t{4950});
  }
}

TEST(WorkerPool, ThreadsIsTheCapWithinThePool) {
  WorkerPool pool(4);
  {
    ScopedPool scope(&pool);
    set_threads(2);
    EXPECT_EQ(threads(), 2);
    set_threads(9);
    EXPECT_EQ(threads(), 4) << "a cap above the pool's size gets the pool's size";
    std::vector<std::atomic<int>> per_worker(4);
    parallel_for(size_t{4000}, true, [&](size_t, int w) { per_worker[size_t(w)]++; });
    int total = 0;
    for (auto& c : per_worker) total += c.load();
    EXPECT_EQ(total, 4000);
    set_threads(1);
    std::atomic<int> nonzero{0};
    parallel_for(size_t{100}, true, [&](size_t, int w) {
      if (w != 0) nonzero++;
    });
    EXPECT_EQ(nonzero.load(), 0) << "one thread: everything on worker 0";
  }
  EXPECT_EQ(current_pool(), nullptr) << "the guard restores no pool";
  set_threads(0);
}

TEST(WorkerPool, DefaultPoolWithoutACurrentOne) {
  set_threads(0);
  ASSERT_EQ(current_pool(), nullptr);
  const int n = threads();
  EXPECT_GE(n, 1);
  std::vector<std::atomic<int>> hits(5000);
  std::atomic<int> bad{0};
  parallel_for(hits.size(), true, [&](size_t i, int w) {
    if (w < 0 || w >= n) bad++;
    hits[i]++;
  });
  for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << i;
  EXPECT_EQ(bad.load(), 0);
}

TEST(WorkerPool, DestroyedWhileIdleAndRightAfterALoop) {
  for (int k = 0; k < 200; ++k) {
    WorkerPool pool(1 + k % 4);
    if (k % 2 == 0) check_loop(pool, 10, 4);
  }
}

}  // namespace
}  // namespace ingot::cpu
