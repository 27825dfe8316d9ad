// A fixed set of worker threads that runs parallel_for loops (kernels/cpu/threads.h). A model owns
// one, shared by every session that steps through it, so N sessions never start N× the threads.
//
// Waiting: an idle worker spins for a short while (kSpin, about the gap between two kernel calls
// of a decode step), then blocks on a futex (std::atomic::wait). The caller of run() never waits
// for a worker that has not started: it works on the loop itself, and it only waits for the
// workers that did take an iteration. A worker that a busy core keeps off the CPU therefore costs
// the loop nothing (OpenMP's team barrier waited for every thread of the team, which on busy
// cores made 2-thread decode collapse: bench/results/omp-wait-policy-2026-11-29-cpu.log).
//
// Concurrency: run() calls on one pool from several threads are serialised, a whole loop at a
// time (a mutex the second caller sleeps on). The pool has as many threads as cores it was given;
// running two loops at once would need twice the threads or a split of the workers between loops,
// and either oversubscribes the cores or changes a loop's worker count (and so its per-worker
// scratch) while it runs. A loop started from inside a loop body runs inline on that thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ingot::cpu {

namespace detail {
using LoopFn = void (*)(void* ctx, size_t i, int worker);
}

class WorkerPool {
 public:
  // n_workers >= 1 workers in all: the thread that calls run() is worker 0, and the pool starts
  // n_workers - 1 threads (workers 1 .. n_workers - 1).
  explicit WorkerPool(int n_workers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return static_cast<int>(threads_.size()) + 1; }

  // fn(ctx, i, worker) for every i in [0, n), each exactly once, on at most `max_workers` workers
  // (clamped to [1, size()]); 0 <= worker < max_workers, one worker's iterations one after
  // another. Returns when every iteration has finished. If an iteration throws, no further
  // iterations start, the ones running finish, and the first exception is rethrown here.
  void run(size_t n, int max_workers, detail::LoopFn fn, void* ctx);

  // True on a thread that is running an iteration of some pool's loop (a pool thread, or a caller
  // inside run()): a parallel_for there runs inline.
  static bool in_loop();

 private:
  void worker_main(int id);
  void work(int id);  // takes iterations of the current loop until none is left

  std::vector<std::thread> threads_;
  std::mutex submit_;  // one loop at a time

  // The current loop: written by the caller before it publishes `active_`, read by workers that
  // saw it published (and registered in `refs_`), never written while a worker is registered.
  detail::LoopFn fn_ = nullptr;
  void* ctx_ = nullptr;
  size_t n_ = 0;
  int max_workers_ = 1;
  std::atomic<size_t> next_{0};      // the next iteration to hand out
  std::atomic<bool> stop_{false};    // an iteration threw: hand out no more
  std::mutex error_mutex_;
  std::exception_ptr error_;

  std::atomic<uint32_t> active_{0};  // generation of the loop open to workers; 0: none
  std::atomic<uint32_t> wake_{0};    // bumped for every loop (and at shutdown); workers wait on it
  std::atomic<uint32_t> refs_{0};    // workers inside the current loop
  std::atomic<uint32_t> sleepers_{0};
  std::atomic<bool> shutdown_{false};
  uint32_t generation_ = 0;          // the caller's counter (under submit_)
};

// Makes `pool` the calling thread's current pool for the guard's lifetime (the forward pass sets
// its model's pool this way, so kernels keep their signatures). nullptr: no pool (the process
// default pool is used).
class ScopedPool {
 public:
  explicit ScopedPool(WorkerPool* pool);
  ~ScopedPool();
  ScopedPool(const ScopedPool&) = delete;
  ScopedPool& operator=(const ScopedPool&) = delete;

 private:
  WorkerPool* saved_;
};

// The calling thread's current pool, or nullptr.
WorkerPool* current_pool();

}  // namespace ingot::cpu
