// HessianAccumulator: the GPTQ proxy Hessian H = (2/N) · Σ_t x_t x_tᵀ of one linear layer's
// inputs, accumulated batch by batch over N calibration tokens.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "gptq/gptq.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

// The device half of the accumulators (GptqDevice::cuda: cuBLAS ssyrk / sgemm into a device
// matrix, TF32 off; hessian_cuda.cpp, or a stub that refuses without CUDA).
struct DeviceAccumulator;
struct DeviceAccumulatorDeleter {
  void operator()(DeviceAccumulator* d) const;
};
using DeviceAccumulatorPtr = std::unique_ptr<DeviceAccumulator, DeviceAccumulatorDeleter>;

class HessianAccumulator {
 public:
  // in: the layer's input features. GptqDevice::cuda keeps H on device 0 and multiplies there
  // (the same running mean, one cublasSsyrk a batch, f32, TF32 off); a device error is kept in
  // status() rather than thrown, and later adds do nothing.
  explicit HessianAccumulator(size_t in, GptqDevice device = GptqDevice::cpu);

  // x: (n, in) row-major f32, n tokens of this layer's input. Like the reference add_batch
  // (IST-DASLab gptq.py), keeps H as the running mean: H *= n_old/n_new; H += (2/n_new)·XᵀX,
  // both in one BLAS ssyrk (C = alpha·XᵀX + beta·C) on the upper triangle, in f32.
  void add(const float* x, size_t n);

  // The full symmetric (in, in) row-major H so far (the lower triangle mirrored from the upper).
  // All zeros before the first add. The accumulator stays usable.
  std::vector<float> finish() const;

  size_t n_samples() const { return n_samples_; }
  size_t in() const { return in_; }
  // The first error of the device path (success on the CPU); check it before using finish().
  const format::Status& status() const { return status_; }

 private:
  size_t in_;
  size_t n_samples_ = 0;
  std::vector<float> h_;  // (in, in) row-major; only the upper triangle (j >= i) is maintained
  DeviceAccumulatorPtr dev_;
  mutable format::Status status_ = format::Status::success();
};

// CrossAccumulator: GPTAQ's asymmetric term dXXT = (2/N) · Σ_t (x̃_t − x_t) x_tᵀ (in, in), x̃ the
// full-precision model's input of the layer and x the partly quantized model's (the authors'
// gptaq_utils.py add_batch and GPTQModel's gptaq.py process_batch: the same running mean as H).
class CrossAccumulator {
 public:
  // GptqDevice::cuda as HessianAccumulator's (one cublasSgemm a batch).
  explicit CrossAccumulator(size_t in, GptqDevice device = GptqDevice::cpu);

  // x_fp, x: (n, in) row-major f32, the same n tokens through both models. One sgemm:
  // C = (2/n_new) · (x_fp − x)ᵀ x + (n_old/n_new) · C.
  void add(const float* x_fp, const float* x, size_t n);

  // (in, in) row-major: [i][j] = (2/N) Σ_t (x̃_t[i] − x_t[i]) x_t[j]. Not symmetric.
  const std::vector<float>& value() const;
  size_t n_samples() const { return n_samples_; }
  const format::Status& status() const { return status_; }

 private:
  size_t in_;
  size_t n_samples_ = 0;
  mutable std::vector<float> c_;  // (in, in); on the device path, read back by value()
  std::vector<float> dx_;  // (n, in) scratch: x_fp − x
  DeviceAccumulatorPtr dev_;
  mutable format::Status status_ = format::Status::success();
};

// The device side (hessian_cuda.cpp / hessian_cuda_stub.cpp). c (in, in) row-major f32 on the
// device, zero at the start; each call C = alpha · (a product) + beta · C.
format::Status device_accumulator_create(size_t in, DeviceAccumulatorPtr* out);
// C's row-major upper triangle += as cblas_ssyrk(RowMajor, Upper, Trans) of x (k, in).
format::Status device_syrk(DeviceAccumulator& d, const float* x, size_t k, float alpha, float beta);
// C = alpha · dxᵀ · x + beta · C (row-major, dx and x (k, in)).
format::Status device_cross(DeviceAccumulator& d, const float* dx, const float* x, size_t k, float alpha, float beta);
format::Status device_read(DeviceAccumulator& d, float* c);

}  // namespace ingot::compiler
