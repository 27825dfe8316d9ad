// The reductions of sampling on the device: argmax and the top-k order (the host sampler's:
// higher logit first, ties to the lower id, runtime/src/sampling/sampler.cpp), and the top-p
// cut of a sorted probability list.
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
