// Online softmax and the merge of attention splits (flash-decoding; attention.cu). A split's
// state over its positions P is (m, l, acc): m = max score, l = Σ_P exp(s − m),
// acc = Σ_P exp(s − m) · v. The attention output is acc / l of the merge of all splits.
#pragma once

#include <cmath>

#include "cuda/hd.cuh"

namespace ingot::cuda {

INGOT_HD float exp_f(float x) {
#if defined(__CUDA_ARCH__)
  return __expf(x);
#else
  return std::exp(x);
#endif
}

// The state of no positions: m = −inf, l = 0, acc = 0. Its weight in any merge is 0.
struct SoftmaxState {
  float m;
  float l;
};

INGOT_HD SoftmaxState softmax_empty() { return {-INFINITY, 0.0f}; }

// The factors that bring two states to their common maximum: merged m = max(a.m, b.m), and a's
// and b's l and acc are multiplied by *ca and *cb. An empty side gets factor 0 (never exp(NaN)).
INGOT_HD float softmax_merge(SoftmaxState a, SoftmaxState b, float* ca, float* cb) {
  const float m = a.m > b.m ? a.m : b.m;
  *ca = a.m == -INFINITY ? 0.0f : exp_f(a.m - m);
  *cb = b.m == -INFINITY ? 0.0f : exp_f(b.m - m);
  return m;
}

// Adds one score s (its value row enters the accumulator with weight *w_new after the old
// accumulator is scaled by *c_old): the online update of one position.
INGOT_HD SoftmaxState softmax_push(SoftmaxState st, float s, float* c_old, float* w_new) {
  SoftmaxState one{s, 1.0f};
  const float m = softmax_merge(st, one, c_old, w_new);
  return {m, st.l * *c_old + *w_new};
}

// Merged state of a and b with factors from softmax_merge.
INGOT_HD SoftmaxState softmax_combine(SoftmaxState a, SoftmaxState b, float* ca, float* cb) {
  const float m = softmax_merge(a, b, ca, cb);
  return {m, a.l * *ca + b.l * *cb};
}

}  // namespace ingot::cuda
