#include "cpu/threads.h"

#include <cblas.h>
#include <omp.h>

#include <mutex>

namespace ingot::cpu {

void set_threads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  omp_set_num_threads(n);  // the calling thread's setting: sessions on several threads each set theirs
  // Every BLAS call runs inside our OpenMP blocks (matmul.cpp): BLAS itself stays single-threaded.
  // Once: it is a process-wide setting, and writing it from several threads at once is a race.
  static std::once_flag blas_once;
  std::call_once(blas_once, [] { openblas_set_num_threads(1); });
}

int threads() { return omp_get_max_threads(); }

}  // namespace ingot::cpu
