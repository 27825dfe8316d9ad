// The sampler against the definitions: greedy is argmax, temperature sampling follows
// softmax(logits / T) (chi-square over many draws), top-k / top-p / min-p cut exactly the tokens
// their definitions cut, the repetition penalty scales recent tokens' logits, seeds reproduce;
// drawing from a row's best candidates (what a backend that selects them hands over) gives the
// token that drawing from the whole row gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <vector>

#include "sampling/sampler.h"

namespace ingot::runtime {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 0.5f, -1.0f, 2.5f};

std::map<int32_t, int> histogram(SamplerParams p, int draws, const std::vector<int32_t>& history = {}) {
  Sampler s(p);
  std::map<int32_t, int> h;
  for (int i = 0; i < draws; ++i) {
    std::vector<float> l = kLogits;
    ++h[s.sample(l, history)];
  }
  return h;
}

std::vector<double> softmax(const std::vector<float>& l, double t) {
  std::vector<double> p(l.size());
  double sum = 0;
  for (size_t i = 0; i < l.size(); ++i) sum += p[i] = std::exp(l[i] / t);
  for (double& v : p) v /= sum;
  return p;
}

TEST(Sampler, GreedyIsArgmax) {
  SamplerParams p;
  p.temperature = 0;
  const auto h = histogram(p, 10);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.begin()->first, 1);
}

TEST(Sampler, TemperatureSamplingFollowsSoftmax) {
  for (const double t : {0.5, 1.0, 2.0}) {
    SamplerParams p;
    p.temperature = float(t);
    p.top_k = 0;
    p.top_p = 1.0f;
    const int n = 60000;
    const auto h = histogram(p, n);
    const std::vector<double> want = softmax(kLogits, t);
    double chi2 = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const double expected = want[i] * n;
      const double got = h.count(int32_t(i)) ? h.at(int32_t(i)) : 0;
      chi2 += (got - expected) * (got - expected) / expected;
    }
    // 5 degrees of freedom: P(chi2 > 20.5) < 0.001 for a correct sampler.
    EXPECT_LT(chi2, 20.5) << "temperature " << t;
  }
}

TEST(Sampler, TopKKeepsOnlyTheKMostLikely) {
  SamplerParams p;
  p.temperature = 1;
  p.top_k = 2;
  p.top_p = 1;
  const auto h = histogram(p, 5000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_TRUE(h.count(1) && h.count(5));  // logits 3.0 and 2.5
  // Renormalised over the two: p(1) = 1 / (1 + e^-0.5).
  EXPECT_NEAR(h.at(1) / 5000.0, 1 / (1 + std::exp(-0.5)), 0.03);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  SamplerParams p;
  p.temperature = 1;
  p.top_k = 0;
  const std::vector<double> probs = softmax(kLogits, 1);  // sorted ids: 1, 5, 2, 0, 3, 4
  p.top_p = float(probs[1] + probs[5] + 0.01);             // needs the third (id 2) too
  const auto h = histogram(p, 5000);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_TRUE(h.count(1) && h.count(5) && h.count(2));
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheTop) {
  SamplerParams p;
  p.temperature = 1;
  p.top_k = 0;
  p.top_p = 1;
  p.min_p = 0.5f;  // keeps p >= 0.5 p_max: logit >= 3 - ln 2 = 2.31 -> ids 1 and 5
  const auto h = histogram(p, 5000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_TRUE(h.count(1) && h.count(5));
}

TEST(Sampler, RepetitionPenaltyScalesRecentTokens) {
  SamplerParams p;
  p.temperature = 0;
  p.repeat_penalty = 2.0f;  // 3.0 -> 1.5: id 5 (2.5) wins
  Sampler s(p);
  std::vector<float> l = kLogits;
  const std::vector<int32_t> history = {1, 1, 4};
  EXPECT_EQ(s.sample(l, history), 5);
  EXPECT_FLOAT_EQ(l[1], 1.5f);
  EXPECT_FLOAT_EQ(l[4], -2.0f) << "negative logits are multiplied";
  EXPECT_FLOAT_EQ(l[2], 2.0f) << "others untouched";
  // Outside repeat_last_n the token is not penalised.
  p.repeat_last_n = 1;
  Sampler s2(p);
  std::vector<float> l2 = kLogits;
  const std::vector<int32_t> old = {1, 4};
  EXPECT_EQ(s2.sample(l2, old), 1);
}

TEST(Sampler, SameSeedSameDrawsOtherSeedOtherDraws) {
  SamplerParams p;
  p.temperature = 1.5f;
  p.top_k = 0;
  p.top_p = 1;
  auto draws = [&](uint64_t seed) {
    p.seed = seed;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) {
      std::vector<float> l = kLogits;
      out.push_back(s.sample(l, {}));
    }
    return out;
  };
  EXPECT_EQ(draws(7), draws(7));
  EXPECT_NE(draws(7), draws(8));
}

// The row's tokens in the sampler's order (higher logit, ties to the lower id), by a full sort.
std::vector<Candidate> sorted_row(const std::vector<float>& l) {
  std::vector<Candidate> c(l.size());
  for (size_t i = 0; i < l.size(); ++i) c[i] = {l[i], int32_t(i)};
  std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  });
  return c;
}

TEST(Sampler, TopCandidatesAreTheRowsBestInOrder) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 100; ++trial) {
    std::vector<float> l(1 + rng() % 2000);
    for (float& v : l) v = float(int(rng() % 40)) * 0.25f - 5.0f;  // many ties
    const size_t k = 1 + rng() % l.size();
    std::vector<Candidate> got(k);
    top_candidates(l, k, got.data());
    const std::vector<Candidate> want = sorted_row(l);
    for (size_t i = 0; i < k; ++i) {
      ASSERT_EQ(got[i].id, want[i].id) << "trial " << trial << ", place " << i;
      ASSERT_EQ(got[i].logit, want[i].logit);
    }
  }
}

TEST(Sampler, CandidatesNeededSaysWhenTheBestSuffice) {
  SamplerParams p;
  p.temperature = 0.8f;
  p.top_k = 40;
  EXPECT_EQ(Sampler(p).candidates_needed(32000), 40u);
  p.repeat_penalty = 1.1f;
  p.repeat_last_n = 64;
  EXPECT_EQ(Sampler(p).candidates_needed(32000), 104u) << "the penalty may lower up to 64 of the best";
  EXPECT_EQ(Sampler(p).candidates_needed(104), 0u) << "as many as the vocabulary: the whole row";
  p.repeat_penalty = 0.9f;
  EXPECT_EQ(Sampler(p).candidates_needed(32000), 0u) << "a penalty below 1 raises tokens from anywhere";
  p.repeat_penalty = 1.0f;
  p.top_k = 0;
  EXPECT_EQ(Sampler(p).candidates_needed(32000), 0u) << "no top-k: top-p needs the whole row";
  p.top_k = 40;
  p.temperature = 0;
  EXPECT_EQ(Sampler(p).candidates_needed(32000), 0u) << "greedy takes the argmax instead";
}

// sample_top on the best candidates_needed() tokens (found here by a full sort) draws what
// sample() draws from the whole row, step after step, over temperatures, top-k, top-p, min-p and
// penalties; rows with many ties, -inf, and penalised tokens among and just below the best.
TEST(Sampler, DrawingFromTheBestCandidatesGivesTheWholeRowsToken) {
  std::mt19937 rng(11);
  const float temps[] = {0.3f, 0.8f, 1.5f};
  const int32_t top_ks[] = {1, 5, 40, 200};
  const float top_ps[] = {1.0f, 0.9f, 0.5f};
  const float min_ps[] = {0.0f, 0.05f};
  const float penalties[] = {1.0f, 1.1f, 1.5f, 3.0f};
  const int32_t last_ns[] = {0, 8, 64};
  int compared = 0, penalised_in_top = 0;
  for (int trial = 0; trial < 400; ++trial) {
    SamplerParams p;
    p.temperature = temps[rng() % 3];
    p.top_k = top_ks[rng() % 4];
    p.top_p = top_ps[rng() % 3];
    p.min_p = min_ps[rng() % 2];
    p.repeat_penalty = penalties[rng() % 4];
    p.repeat_last_n = last_ns[rng() % 3];
    p.seed = rng();
    const size_t vocab = 300 + rng() % 3000;
    Sampler whole(p), best(p);
    const size_t need = whole.candidates_needed(vocab);
    if (need == 0) continue;
    std::vector<int32_t> history = {-1, int32_t(vocab) + 3};  // ids outside the row are ignored
    for (int step = 0; step < 12; ++step) {
      std::vector<float> l(vocab);
      for (float& v : l) v = float(int(rng() % 60)) * 0.2f - 6.0f;
      for (int j = 0; j < 5; ++j) l[rng() % vocab] = -INFINITY;
      // Recent tokens among the best: the sampled ones, and a few taken from the top.
      const std::vector<Candidate> order = sorted_row(l);
      for (int j = 0; j < 3; ++j) history.push_back(order[rng() % std::min<size_t>(need, vocab)].id);
      if (p.repeat_penalty != 1.0f && p.repeat_last_n > 0) {  // a penalised token among the top k
        const auto from = history.end() - std::min<std::ptrdiff_t>(p.repeat_last_n, std::ptrdiff_t(history.size()));
        for (size_t j = 0; j < size_t(p.top_k); ++j) {
          if (std::find(from, history.end(), order[j].id) != history.end()) {
            ++penalised_in_top;
            break;
          }
        }
      }
      std::vector<float> row = l;
      const int32_t want = whole.sample(row, history);
      const int32_t got = best.sample_top({order.data(), need}, history);
      ASSERT_EQ(got, want) << "trial " << trial << " step " << step << ": T " << p.temperature << ", top_k "
                           << p.top_k << ", top_p " << p.top_p << ", min_p " << p.min_p << ", penalty "
                           << p.repeat_penalty << " over " << p.repeat_last_n;
      history.push_back(want);
      ++compared;
    }
  }
  EXPECT_GT(compared, 1500);
  EXPECT_GT(penalised_in_top, 300);
}

}  // namespace
}  // namespace ingot::runtime
