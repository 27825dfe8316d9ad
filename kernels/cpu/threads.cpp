#include "cpu/threads.h"

#include <cblas.h>
#include <omp.h>

#include <mutex>

namespace ingot::cpu {

void set_threads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  omp_set_num_threads(n);  // the calling thread's setting: sessions on several threads each set theirs
  // Every BLAS call runs inside our parallel loops: BLAS itself stays single-threaded.
  // Once: it is a process-wide setting, and writing it from several threads at once is a race.
  static std::once_flag blas_once;
  std::call_once(blas_once, [] { openblas_set_num_threads(1); });
}

int threads() { return omp_get_max_threads(); }

namespace detail {

void run_parallel(size_t n, bool parallel, LoopFn fn, void* ctx) {
  if (n == 0) return;
  if (!parallel || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(ctx, i, 0);
    return;
  }
#pragma omp parallel
  {
    const int worker = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (size_t i = 0; i < n; ++i) fn(ctx, i, worker);
  }
}

}  // namespace detail
}  // namespace ingot::cpu
