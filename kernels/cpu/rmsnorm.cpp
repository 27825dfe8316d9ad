#include "cpu/rmsnorm.h"

#include <cmath>
#include <vector>

namespace ingot::cpu {

void rmsnorm(const float* x, size_t n, size_t dim, const WeightView& weight, float eps, float* out) {
  std::vector<float> w(dim);
  weight_row(weight, 0, w.data());
  for (size_t t = 0; t < n; ++t) {
    const float* xi = x + t * dim;
    double ss = 0;  // accumulate in double: dim can be 8192
    for (size_t i = 0; i < dim; ++i) ss += double(xi[i]) * xi[i];
    const float scale = float(1.0 / std::sqrt(ss / double(dim) + double(eps)));
    float* oi = out + t * dim;
    for (size_t i = 0; i < dim; ++i) oi[i] = xi[i] * scale * w[i];
  }
}

}  // namespace ingot::cpu
