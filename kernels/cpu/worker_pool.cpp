#include "cpu/worker_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ingot::cpu {
namespace {

// How long an idle worker (or a caller waiting for its last workers) spins before it blocks.
// A decode step of a small model calls a kernel loop every 20-200 µs, with a few µs of serial work
// (norms, RoPE) between: 50 µs keeps the workers awake across those gaps and lets them sleep
// between tokens and when nothing runs. Spinning longer only burns the time slice of whatever
// else shares the core (the OpenMP default, 300,000 spins, is several ms).
constexpr auto kSpin = std::chrono::microseconds(50);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until pred() or kSpin has passed; returns pred().
template <class Pred>
bool spin_until(Pred pred) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    for (int k = 0; k < 64; ++k) {
      if (pred()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() - start > kSpin) return pred();
  }
}

thread_local bool t_in_loop = false;
thread_local WorkerPool* t_current = nullptr;

}  // namespace

WorkerPool::WorkerPool(int n_workers) {
  if (n_workers < 1) n_workers = 1;
  threads_.reserve(static_cast<size_t>(n_workers - 1));
  for (int id = 1; id < n_workers; ++id) threads_.emplace_back([this, id] { worker_main(id); });
}

WorkerPool::~WorkerPool() {
  shutdown_.store(true);
  wake_.fetch_add(1);
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool WorkerPool::in_loop() { return t_in_loop; }

void WorkerPool::work(int id) {
  for (;;) {
    if (stop_.load(std::memory_order_relaxed)) return;
    const size_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= n_) return;
    try {
      fn_(ctx_, i, id);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
      stop_.store(true, std::memory_order_relaxed);
    }
  }
}

void WorkerPool::worker_main(int id) {
  t_in_loop = true;  // a parallel_for inside an iteration runs inline
  uint32_t seen = 0, last = 0;
  for (;;) {
    // Wait for a new loop: spin briefly, then sleep on the futex. sleepers_ and wake_ are both
    // sequentially consistent, so either the caller sees this sleeper or this sees the new wake_.
    if (!spin_until([&] { return wake_.load() != seen; })) {
      sleepers_.fetch_add(1);
      while (wake_.load() == seen) wake_.wait(seen);
      sleepers_.fetch_sub(1);
    }
    seen = wake_.load();
    if (shutdown_.load()) return;
    // Register, then look at the loop open now: a caller closes its loop (active_ = 0) before it
    // waits for refs_ to drain, so a worker registered while the loop is open holds it open.
    refs_.fetch_add(1);
    const uint32_t g = active_.load();
    if (g != 0 && g != last) {
      last = g;
      if (id < max_workers_) work(id);
    }
    if (refs_.fetch_sub(1) == 1) refs_.notify_all();
  }
}

void WorkerPool::run(size_t n, int max_workers, detail::LoopFn fn, void* ctx) {
  if (n == 0) return;
  if (max_workers > size()) max_workers = size();
  if (max_workers <= 1 || n == 1 || t_in_loop) {
    const bool was = t_in_loop;
    t_in_loop = true;
    struct Restore {
      bool was;
      ~Restore() { t_in_loop = was; }
    } restore{was};
    for (size_t i = 0; i < n; ++i) fn(ctx, i, 0);
    return;
  }

  std::lock_guard<std::mutex> lock(submit_);
  fn_ = fn;
  ctx_ = ctx;
  n_ = n;
  max_workers_ = max_workers;
  next_.store(0, std::memory_order_relaxed);
  stop_.store(false, std::memory_order_relaxed);
  error_ = nullptr;
  if (++generation_ == 0) generation_ = 1;  // 0 means "no loop"
  active_.store(generation_);
  wake_.fetch_add(1);
  if (sleepers_.load() > 0) wake_.notify_all();

  t_in_loop = true;
  work(0);
  t_in_loop = false;

  // Every iteration is taken; close the loop and wait only for the workers inside it.
  active_.store(0);
  if (!spin_until([&] { return refs_.load() == 0; })) {
    for (uint32_t r = refs_.load(); r != 0; r = refs_.load()) refs_.wait(r);
  }
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

ScopedPool::ScopedPool(WorkerPool* pool) : saved_(t_current) { t_current = pool; }
ScopedPool::~ScopedPool() { t_current = saved_; }

WorkerPool* current_pool() { return t_current; }

}  // namespace ingot::cpu
