// The reductions of sampling on the device: argmax and the top-k order (the host sampler's:
// higher logit first, ties to the lower id, runtime/src/sampling/sampler.cpp), the steps of the
// radix selection of a row's k best candidates (topk.cu), and the top-p cut of a sorted
// probability list.
#pragma once

#include <cstdint>

#include "cuda/hd.cuh"

namespace ingot::cuda {

struct Candidate {
  float logit;
  int32_t id;
};

// True when a ranks before b: higher logit, ties to the lower id; NaN ranks last.
INGOT_HD bool ranks_before(Candidate a, Candidate b) {
  const bool an = a.logit != a.logit, bn = b.logit != b.logit;
  if (an != bn) return bn;
  if (!an && a.logit != b.logit) return a.logit > b.logit;
  return a.id < b.id;
}

// The reduction step of argmax: associative and commutative, so any tree order gives one answer
// (std::max_element's: the first maximum).
INGOT_HD Candidate argmax_combine(Candidate a, Candidate b) { return ranks_before(b, a) ? b : a; }

// A logit as an unsigned key whose order is ranks_before's by logit: a larger key ranks first,
// -0 and +0 share a key (they are equal logits, so their order is the ids'), and every NaN is 0,
// below -inf (0x007fffff). Keys are equal exactly when ranks_before compares ids.
INGOT_HD uint32_t order_key(float logit) {
  if (logit != logit) return 0;
#if defined(__CUDA_ARCH__)
  uint32_t u = __float_as_uint(logit);
#else
  uint32_t u = __builtin_bit_cast(uint32_t, logit);
#endif
  if (u == 0x80000000u) u = 0;  // -0 → +0
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// One pass of the radix selection, over the 256 counts of one key digit (hist[d]: candidates
// still in play whose digit is d): the digit that holds the `want`-th best candidate of those
// (1-based, want ≤ their total) and how many rank above that digit's bucket.
struct RadixPick {
  uint32_t digit;
  uint32_t above;
};
INGOT_HD RadixPick radix_pick(const uint32_t* hist, uint32_t want) {
  uint32_t above = 0;
  for (int d = 255; d > 0; --d) {
    if (above + hist[d] >= want) return {uint32_t(d), above};
    above += hist[d];
  }
  return {0, above};
}

// Of n probabilities sorted high to low, how many top-p keeps: the shortest prefix whose sum
// reaches p (at least 1), summed in double as the host sampler does.
template <typename T>
INGOT_HD uint32_t top_p_count(const T* sorted_probs, uint32_t n, float p) {
  double cum = 0;
  uint32_t k = 0;
  while (k < n) {
    cum += sorted_probs[k++];
    if (cum >= p) break;
  }
  return k == 0 && n > 0 ? 1 : k;
}

}  // namespace ingot::cuda
