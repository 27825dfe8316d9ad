// The sampler against the definitions: greedy is argmax, temperature sampling follows
// softmax(logits / T) (chi-square over many draws), top-k / top-p / min-p cut exactly the tokens
// their definitions cut, the repetition penalty scales recent tokens' logits, seeds reproduce.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
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

}  // namespace
}  // namespace ingot::runtime
