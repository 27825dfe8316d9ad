// HessianAccumulator: the GPTQ proxy Hessian H = (2/N) · Σ_t x_t x_tᵀ of one linear layer's
// inputs, accumulated batch by batch over N calibration tokens.
#pragma once

#include <cstddef>
#include <vector>

namespace ingot::compiler {

class HessianAccumulator {
 public:
  explicit HessianAccumulator(size_t in);  // in: the layer's input features

  // x: (n, in) row-major f32, n tokens of this layer's input. Like the reference add_batch
  // (IST-DASLab gptq.py), keeps H as the running mean: H *= n_old/n_new; H += (2/n_new)·XᵀX,
  // both in one BLAS ssyrk (C = alpha·XᵀX + beta·C) on the upper triangle, in f32.
  void add(const float* x, size_t n);

  // The full symmetric (in, in) row-major H so far (the lower triangle mirrored from the upper).
  // All zeros before the first add. The accumulator stays usable.
  std::vector<float> finish() const;

  size_t n_samples() const { return n_samples_; }
  size_t in() const { return in_; }

 private:
  size_t in_;
  size_t n_samples_ = 0;
  std::vector<float> h_;  // (in, in) row-major; only the upper triangle (j >= i) is maintained
};

}  // namespace ingot::compiler
