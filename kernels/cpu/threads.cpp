#include "cpu/threads.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "cpu/worker_pool.h"

namespace ingot::cpu {
namespace {

thread_local int t_threads = 0;  // the calling thread's cap; 0: all the pool has

int hardware_threads() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

// The pool of loops run with no current pool (the compiler's calibration, benchmarks, tests):
// one per process, as many workers as hardware threads, started on first use and never stopped
// (its threads sleep on a futex when idle; leaking it keeps it valid for static destructors).
WorkerPool& default_pool() {
  static WorkerPool* pool = new WorkerPool(hardware_threads());
  return *pool;
}

void blas_single_threaded() {
  // Every BLAS call runs inside our parallel loops: BLAS itself stays single-threaded.
  // Once: it is a process-wide setting, and writing it from several threads at once is a race.
  static std::once_flag blas_once;
  std::call_once(blas_once, [] { openblas_set_num_threads(1); });
}

int workers_of(int pool_size) { return t_threads > 0 ? std::min(t_threads, pool_size) : pool_size; }

}  // namespace

void set_threads(int n) {
  t_threads = n > 0 ? n : 0;
  // The compiler's GPTQ quantizer (compiler/src/gptq/gptq.cpp) keeps its own OpenMP loop and
  // reads this thread's OpenMP setting: `ingotc --threads` and the benches set both through here.
  omp_set_num_threads(n > 0 ? n : omp_get_num_procs());
  blas_single_threaded();
}

int requested_threads() { return t_threads > 0 ? t_threads : hardware_threads(); }

int threads() {
  if (WorkerPool::in_loop()) return 1;
  const WorkerPool* pool = current_pool();
  return workers_of(pool ? pool->size() : hardware_threads());
}

namespace detail {

void run_parallel(size_t n, bool parallel, LoopFn fn, void* ctx) {
  if (n == 0) return;
  if (!parallel || n == 1 || WorkerPool::in_loop()) {
    for (size_t i = 0; i < n; ++i) fn(ctx, i, 0);
    return;
  }
  WorkerPool* pool = current_pool();
  if (pool == nullptr) {
    if (workers_of(hardware_threads()) <= 1) {
      for (size_t i = 0; i < n; ++i) fn(ctx, i, 0);
      return;
    }
    blas_single_threaded();
    pool = &default_pool();
  }
  pool->run(n, workers_of(pool->size()), fn, ctx);
}

}  // namespace detail
}  // namespace ingot::cpu
