#include "cpu/threads.h"

#include <cblas.h>
#include <omp.h>

namespace ingot::cpu {

void set_threads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  omp_set_num_threads(n);
  // Every BLAS call runs inside our OpenMP blocks (matmul.cpp): BLAS itself stays single-threaded.
  openblas_set_num_threads(1);
}

int threads() { return omp_get_max_threads(); }

}  // namespace ingot::cpu
