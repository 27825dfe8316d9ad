#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace ingot::runtime {

int32_t argmax(std::span<const float> logits) {
  return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  if (p_.repeat_penalty != 1.0f && p_.repeat_last_n > 0) {
    const size_t from = history.size() > size_t(p_.repeat_last_n) ? history.size() - size_t(p_.repeat_last_n) : 0;
    std::vector<int32_t> recent(history.begin() + std::ptrdiff_t(from), history.end());
    std::sort(recent.begin(), recent.end());
    recent.erase(std::unique(recent.begin(), recent.end()), recent.end());  // each token penalised once
    for (int32_t id : recent) {
      if (id < 0 || size_t(id) >= logits.size()) continue;
      float& l = logits[size_t(id)];
      l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
    }
  }
  if (p_.temperature <= 0) return argmax(logits);

  // Candidates sorted by logit, highest first (ties: lower id first, for reproducibility).
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  const auto by_logit = [&](int32_t a, int32_t b) {
    return logits[size_t(a)] > logits[size_t(b)] || (logits[size_t(a)] == logits[size_t(b)] && a < b);
  };
  size_t keep = ids.size();
  if (p_.top_k > 0 && size_t(p_.top_k) < keep) {
    keep = size_t(p_.top_k);
    std::partial_sort(ids.begin(), ids.begin() + std::ptrdiff_t(keep), ids.end(), by_logit);
  } else {
    std::sort(ids.begin(), ids.end(), by_logit);
  }
  ids.resize(keep);
  std::vector<double> probs(keep);
  const double max = logits[size_t(ids[0])];
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) sum += probs[i] = std::exp((double(logits[size_t(ids[i])]) - max) / p_.temperature);
  for (double& p : probs) p /= sum;
  if (p_.top_p < 1.0f) {
    double cum = 0;
    size_t n = 0;
    while (n < keep) {
      cum += probs[n++];
      if (cum >= p_.top_p) break;
    }
    keep = n;
  }
  if (p_.min_p > 0) {
    size_t n = 1;
    while (n < keep && probs[n] >= p_.min_p * probs[0]) ++n;
    keep = n;
  }
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += probs[i];
  const double r = uniform() * total;
  double cum = 0;
  for (size_t i = 0; i < keep; ++i) {
    cum += probs[i];
    if (r < cum) return ids[i];
  }
  return ids[keep - 1];
}

}  // namespace ingot::runtime
