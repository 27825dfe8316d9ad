// The vectorised `logits` methods and the ctx RNG against plain C++ references written here in
// double precision (not the bindings' code): softmax, top_k, argmax, sample_top_p with the same
// seeded draws, penalize, scale, add_bias, ban, allow, get/set, and the errors for bad arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "ingot/scripting/script.h"

namespace ingot::test {
namespace {

using scripting::Script;

std::unique_ptr<Script> load(const std::string& code) {
  std::unique_ptr<Script> s;
  const format::Status st = Script::load_string(code, "test.lua", {}, &s);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return s;
}

runtime::HookContext context(uint64_t seed = 0) {
  runtime::HookContext c;
  c.seed = seed;
  return c;
}

std::vector<float> random_logits(size_t n, uint32_t seed, float scale = 3.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> l(n);
  for (float& v : l) v = d(rng);
  return l;
}

// Runs process_logits of `code` on `l` (changed in place).
void process(const std::string& code, std::vector<float>& l) {
  auto s = load(code);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->has_process_logits());
  ASSERT_TRUE(s->begin(context()).ok());
  const format::Status st = s->process_logits(l, context());
  ASSERT_TRUE(st.ok()) << st.to_string();
}

TEST(LogitsBinding, SoftmaxMatchesADoubleReference) {
  std::vector<float> l = random_logits(32000, 1, 5.0f);
  const std::vector<float> orig = l;
  process("function process_logits(l) l:softmax() end", l);
  double max = -INFINITY, sum = 0;
  for (float v : orig) max = std::max(max, double(v));
  for (float v : orig) sum += std::exp(double(v) - max);
  double total = 0;
  for (size_t i = 0; i < l.size(); ++i) {
    const double want = std::exp(double(orig[i]) - max) / sum;
    ASSERT_NEAR(l[i], want, 1e-6 * want + 1e-12) << "token " << i;
    total += l[i];
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
}

TEST(LogitsBinding, TopKIsSortedWithLowerIdsFirstOnTies) {
  std::vector<float> l = random_logits(1000, 2);
  l[10] = l[20] = l[30] = 100.0f;  // a tie at the top: ids 10, 20, 30 in that order
  const std::vector<float> orig = l;
  // Writes ids to l[0..k) and values to l[k..2k).
  process(R"(function process_logits(l)
    local ids, vals = l:top_k(50)
    assert(#ids == 50 and #vals == 50)
    for i = 1, 50 do l:set(i - 1, ids[i]); l:set(50 + i - 1, vals[i]) end
  end)", l);
  std::vector<int32_t> ref(orig.size());
  std::iota(ref.begin(), ref.end(), 0);
  std::stable_sort(ref.begin(), ref.end(), [&](int32_t a, int32_t b) { return orig[size_t(a)] > orig[size_t(b)]; });
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(int32_t(l[i]), ref[i]) << "rank " << i;
    EXPECT_EQ(l[50 + i], orig[size_t(ref[i])]) << "rank " << i;
  }
}

TEST(LogitsBinding, ScaleBiasBanAllowAndPenalizeMatchTheirDefinitions) {
  std::vector<float> l = random_logits(512, 3);
  const std::vector<float> orig = l;
  process(R"(function process_logits(l)
    l:scale(0.5)
    l:add_bias({[7] = 2.5, [8] = -1})
    l:ban({3, 4})
    l:penalize({100, 101, 100, 102, 103}, 1.3)
  end)", l);
  for (size_t i = 0; i < l.size(); ++i) {
    double want = double(orig[i]) * 0.5;
    if (i == 7) want += 2.5;
    if (i == 8) want -= 1;
    if (i >= 100 && i <= 103) want = want > 0 ? want / 1.3 : want * 1.3;  // once, despite the repeat
    if (i == 3 || i == 4) {
      EXPECT_TRUE(std::isinf(l[i]) && l[i] < 0) << i;
    } else {
      EXPECT_NEAR(l[i], want, 1e-5 * std::abs(want) + 1e-6) << i;
    }
  }
  std::vector<float> m = orig;
  process("function process_logits(l) l:allow({5, 9, 500}) end", m);
  for (size_t i = 0; i < m.size(); ++i) {
    if (i == 5 || i == 9 || i == 500) {
      EXPECT_EQ(m[i], orig[i]);
    } else {
      EXPECT_TRUE(std::isinf(m[i]) && m[i] < 0) << i;
    }
  }
}

TEST(LogitsBinding, ArgmaxSizeAndGetAgreeWithTheBuffer) {
  auto s = load(R"(function sample(l, ctx)
    assert(l:size() == 700 and #l == 700)
    assert(l:get(l:argmax()) == l:get(123))
    return l:argmax()
  end)");
  std::vector<float> l = random_logits(700, 4);
  l[123] = 50;
  l[124] = 50;  // the first of equal maxima wins, as in runtime::argmax
  int32_t token = -1;
  const format::Status st = s->sample(l, context(), &token);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(token, 123);
}

// The reference top-p draw: softmax in double, sort by probability (lower id first on ties), keep
// the fewest tokens reaching p, then r = u * kept mass with u from the run's mt19937_64.
int32_t reference_top_p(const std::vector<float>& l, double p, std::mt19937_64& rng) {
  double max = -INFINITY;
  for (float v : l) max = std::max(max, double(v));
  std::vector<double> prob(l.size());
  double sum = 0;
  for (size_t i = 0; i < l.size(); ++i) sum += prob[i] = std::exp(double(l[i]) - max);
  for (double& q : prob) q /= sum;
  std::vector<int32_t> ids(l.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return prob[size_t(a)] > prob[size_t(b)]; });
  double kept = 0;
  size_t n = 0;
  while (n < ids.size()) {
    kept += prob[size_t(ids[n++])];
    if (kept >= p) break;
  }
  const double u = double(rng() >> 11) * 0x1.0p-53;
  const double r = u * kept;
  double cum = 0;
  for (size_t i = 0; i < n; ++i) {
    cum += prob[size_t(ids[i])];
    if (r < cum) return ids[i];
  }
  return ids[n - 1];
}

TEST(LogitsBinding, SampleTopPDrawsWhatTheReferenceDrawsWithTheSameSeed) {
  for (double p : {0.05, 0.5, 0.9, 1.0}) {
    auto s = load("P = " + std::to_string(p) + "\nfunction sample(l, ctx) return l:sample_top_p(P) end");
    ASSERT_TRUE(s->begin(context(1234)).ok());
    std::mt19937_64 rng(1234);
    std::map<int32_t, int> seen;
    for (uint32_t draw = 0; draw < 150; ++draw) {
      // Peaked rows (as a trained model gives) and flat ones (most tokens in the nucleus), some at
      // LLaMA's vocabulary size.
      const bool big = draw % 5 == 0;
      std::vector<float> l = random_logits(big ? 32000 : 1000, 100 + draw, draw % 2 ? 1.0f : 4.0f);
      const int32_t want = reference_top_p(l, p, rng);
      int32_t got = -1;
      const format::Status st = s->sample(l, context(1234), &got);
      ASSERT_TRUE(st.ok()) << st.to_string();
      ASSERT_EQ(got, want) << "p " << p << " draw " << draw;
      ++seen[got];
    }
    if (p > 0.5) {
      EXPECT_GT(seen.size(), 40u) << "p " << p;  // it does sample, not pick the top
    }
  }
}

TEST(LogitsBinding, CtxRandomAndMathRandomFollowTheSeed) {
  const std::string code = R"(
    function sample(l, ctx)
      local a = ctx:random()
      l:set(0, a)
      l:set(1, math.random(1000000))
      l:set(2, ctx:random(3, 5))
      return 0
    end)";
  const auto draw = [&](uint64_t seed) {
    auto s = load(code);
    EXPECT_TRUE(s->begin(context(seed)).ok());
    std::vector<float> l(8);
    int32_t t = 0;
    EXPECT_TRUE(s->sample(l, context(seed), &t).ok());
    return l;
  };
  const std::vector<float> a = draw(7), b = draw(7), c = draw(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a[1], c[1]);
  std::mt19937_64 rng(7);
  EXPECT_FLOAT_EQ(a[0], float(double(rng() >> 11) * 0x1.0p-53));
  EXPECT_GE(a[2], 3);
  EXPECT_LE(a[2], 5);
}

TEST(LogitsBinding, BadArgumentsAreErrorsNamingTheMethodAndLine) {
  const struct {
    const char* body;
    const char* reason;
  } cases[] = {
      {"l:get(512)", "get: token id 512 is outside the vocabulary [0, 512)"},
      {"l:set(-1, 0)", "set: token id -1 is outside the vocabulary"},
      {"l:ban({1, 'x'})", "ban: element 2 is string, expected a token id"},
      {"l:add_bias({[1000] = 1})", "add_bias: token id 1000 is outside the vocabulary"},
      {"l:top_k(0)", "top_k: k must be at least 1"},
      {"l:sample_top_p(1.5)", "sample_top_p: p must be in (0, 1]"},
      {"l:penalize({1}, 0)", "penalize: factor must be positive"},
      {"l:scale(1/0)", "scale: factor must be finite"},
      {"l:ban({0}) l:allow({}) l:softmax()", "softmax: no finite logit"},
      {"l.size()", "bad argument #1 to 'size'"},
  };
  for (const auto& c : cases) {
    auto s = load(std::string("function process_logits(l, ctx)\n  ") + c.body + "\nend");
    std::vector<float> l(512, 1.0f);
    const format::Status st = s->process_logits(l, context());
    ASSERT_FALSE(st.ok()) << c.body;
    EXPECT_EQ(st.code(), format::StatusCode::script_error);
    EXPECT_NE(st.message().find("script 'test.lua', process_logits: test.lua:2: "), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(c.reason), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace ingot::test
