#include "gptq/hessian.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

namespace ingot::compiler {

HessianAccumulator::HessianAccumulator(size_t in, GptqDevice device) : in_(in), h_(in * in, 0.0f) {
  if (in > size_t(INT_MAX)) throw std::invalid_argument("HessianAccumulator: in exceeds BLAS int");
  if (device == GptqDevice::cuda) status_ = device_accumulator_create(in, &dev_);
}

void HessianAccumulator::add(const float* x, size_t n) {
  if (n == 0 || in_ == 0 || !status_.ok()) return;
  // Rows are fed to BLAS in chunks that fit its int dimensions; each chunk is one running-mean
  // step, which is the same as the reference's per-batch steps.
  const size_t max_chunk = size_t(INT_MAX);
  for (size_t t0 = 0; t0 < n; t0 += max_chunk) {
    const size_t k = std::min(max_chunk, n - t0);
    const size_t n_new = n_samples_ + k;
    // In double so that neither factor loses digits when N is large, then one f32 rounding each.
    const float beta = float(double(n_samples_) / double(n_new));
    const float alpha = float(2.0 / double(n_new));
    // Row-major, Trans: C (in, in) = alpha · Aᵀ A + beta · C with A = x (k, in).
    if (dev_) {
      status_ = device_syrk(*dev_, x + t0 * in_, k, alpha, beta);
      if (!status_.ok()) return;
      n_samples_ = n_new;
      continue;
    }
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, int(in_), int(k), alpha, x + t0 * in_, int(in_),
                beta, h_.data(), int(in_));
    n_samples_ = n_new;
  }
}

std::vector<float> HessianAccumulator::finish() const {
  std::vector<float> h = h_;
  if (dev_ && status_.ok() && n_samples_ > 0) {
    status_ = device_read(*dev_, h.data());
    if (!status_.ok()) std::fill(h.begin(), h.end(), 0.0f);  // and status() says why
  }
  for (size_t i = 0; i < in_; ++i)
    for (size_t j = i + 1; j < in_; ++j) h[j * in_ + i] = h[i * in_ + j];
  return h;
}

CrossAccumulator::CrossAccumulator(size_t in, GptqDevice device) : in_(in), c_(in * in, 0.0f) {
  if (in > size_t(INT_MAX)) throw std::invalid_argument("CrossAccumulator: in exceeds BLAS int");
  if (device == GptqDevice::cuda) status_ = device_accumulator_create(in, &dev_);
}

const std::vector<float>& CrossAccumulator::value() const {
  if (dev_ && status_.ok() && n_samples_ > 0) status_ = device_read(*dev_, c_.data());
  return c_;
}

void CrossAccumulator::add(const float* x_fp, const float* x, size_t n) {
  if (n == 0 || in_ == 0 || !status_.ok()) return;
  const size_t max_chunk = size_t(INT_MAX) / std::max<size_t>(in_, 1);
  for (size_t t0 = 0; t0 < n; t0 += max_chunk) {
    const size_t k = std::min(max_chunk, n - t0);
    const size_t n_new = n_samples_ + k;
    const float beta = float(double(n_samples_) / double(n_new));
    const float alpha = float(2.0 / double(n_new));
    dx_.resize(k * in_);
    for (size_t i = 0; i < k * in_; ++i) dx_[i] = x_fp[t0 * in_ + i] - x[t0 * in_ + i];
    // Row-major: C (in, in) = alpha · dXᵀ · X + beta · C, dX and X (k, in).
    if (dev_) {
      status_ = device_cross(*dev_, dx_.data(), x + t0 * in_, k, alpha, beta);
      if (!status_.ok()) return;
      n_samples_ = n_new;
      continue;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(in_), int(in_), int(k), alpha, dx_.data(), int(in_),
                x + t0 * in_, int(in_), beta, c_.data(), int(in_));
    n_samples_ = n_new;
  }
}

}  // namespace ingot::compiler
