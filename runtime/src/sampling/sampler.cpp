#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace ingot::runtime {

int32_t argmax(std::span<const float> logits) {
  return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

void top_candidates(std::span<const float> row, size_t k, Candidate* out) {
  std::vector<int32_t> ids(row.size());
  std::iota(ids.begin(), ids.end(), 0);
  const auto first = [&](int32_t a, int32_t b) { return ranks_before({row[size_t(a)], a}, {row[size_t(b)], b}); };
  std::partial_sort(ids.begin(), ids.begin() + std::ptrdiff_t(k), ids.end(), first);
  for (size_t i = 0; i < k; ++i) out[i] = {row[size_t(ids[i])], ids[i]};
}

std::vector<int32_t> Sampler::penalised(std::span<const int32_t> history) const {
  const size_t from = history.size() > size_t(p_.repeat_last_n) ? history.size() - size_t(p_.repeat_last_n) : 0;
  std::vector<int32_t> recent(history.begin() + std::ptrdiff_t(from), history.end());
  std::sort(recent.begin(), recent.end());
  recent.erase(std::unique(recent.begin(), recent.end()), recent.end());  // each token penalised once
  return recent;
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  if (penalty_on()) {
    for (int32_t id : penalised(history)) {
      if (id < 0 || size_t(id) >= logits.size()) continue;
      logits[size_t(id)] = penalise(logits[size_t(id)]);
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
  std::vector<float> sorted(keep);
  for (size_t i = 0; i < keep; ++i) sorted[i] = logits[size_t(ids[i])];
  return draw(ids.data(), sorted.data(), keep);
}

size_t Sampler::candidates_needed(size_t vocab) const {
  if (p_.temperature <= 0 || p_.top_k <= 0) return 0;
  size_t need = size_t(p_.top_k);
  if (penalty_on()) {
    if (!(p_.repeat_penalty >= 1.0f)) return 0;  // below 1 (or NaN): any token may rise into the top k
    need += size_t(p_.repeat_last_n);
  }
  return need < vocab ? need : 0;
}

int32_t Sampler::sample_top(std::span<const Candidate> top, std::span<const int32_t> history) {
  std::vector<Candidate> c(top.begin(), top.end());
  if (penalty_on()) {
    const std::vector<int32_t> recent = penalised(history);
    bool changed = false;
    for (Candidate& t : c) {
      if (std::binary_search(recent.begin(), recent.end(), t.id)) t.logit = penalise(t.logit), changed = true;
    }
    if (changed) std::sort(c.begin(), c.end(), ranks_before);
  }
  const size_t keep = std::min(c.size(), size_t(p_.top_k));
  std::vector<int32_t> ids(keep);
  std::vector<float> logits(keep);
  for (size_t i = 0; i < keep; ++i) ids[i] = c[i].id, logits[i] = c[i].logit;
  return draw(ids.data(), logits.data(), keep);
}

int32_t Sampler::draw(const int32_t* ids, const float* logits, size_t keep) {
  std::vector<double> probs(keep);
  const double max = logits[0];
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) sum += probs[i] = std::exp((double(logits[i]) - max) / p_.temperature);
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
