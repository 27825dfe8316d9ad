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

// CrossAccumulator: GPTAQ's asymmetric term dXXT = (2/N) · Σ_t (x̃_t − x_t) x_tᵀ (in, in), x̃ the
// full-precision model's input of the layer and x the partly quantized model's (the authors'
// gptaq_utils.py add_batch and GPTQModel's gptaq.py process_batch: the same running mean as H).
class CrossAccumulator {
 public:
  explicit CrossAccumulator(size_t in);

  // x_fp, x: (n, in) row-major f32, the same n tokens through both models. One sgemm:
  // C = (2/n_new) · (x_fp − x)ᵀ x + (n_old/n_new) · C.
  void add(const float* x_fp, const float* x, size_t n);

  // (in, in) row-major: [i][j] = (2/N) Σ_t (x̃_t[i] − x_t[i]) x_t[j]. Not symmetric.
  const std::vector<float>& value() const { return c_; }
  size_t n_samples() const { return n_samples_; }

 private:
  size_t in_;
  size_t n_samples_ = 0;
  std::vector<float> c_;   // (in, in)
  std::vector<float> dx_;  // (n, in) scratch: x_fp − x
};

}  // namespace ingot::compiler
