// The documents draw of the calibration loader (gptq/calibration.h, ingotc --calib-draw documents)
// on synthetic token documents: every window lies inside one document longer than seqlen, as the
// GPTQ reference's get_c4 (IST-DASLab/gptq datautils.py) takes its windows; deterministic per seed.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "gptq/calibration.h"

namespace ingot::test {
namespace {

constexpr int32_t kStride = 1000000;  // document d's token i is d * kStride + i: a window names its origin

std::vector<std::vector<int32_t>> documents(const std::vector<size_t>& lengths) {
  std::vector<std::vector<int32_t>> docs;
  for (size_t d = 0; d < lengths.size(); ++d) {
    docs.emplace_back();
    for (size_t i = 0; i < lengths[d]; ++i) docs.back().push_back(int32_t(d) * kStride + int32_t(i));
  }
  return docs;
}

TEST(CalibrationDocuments, WindowsLieInsideOneLongEnoughDocument) {
  const size_t seqlen = 16;
  // Shorter than, exactly, one more than and well over seqlen; an empty document.
  const std::vector<size_t> lengths = {3, 16, 17, 40, 0, 15, 100, 16, 25};
  const auto docs = documents(lengths);
  std::vector<std::vector<int32_t>> samples;
  std::vector<std::pair<size_t, size_t>> origins;
  const format::Status s = compiler::draw_document_windows(docs, 6000, seqlen, 7, &samples, &origins);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_EQ(samples.size(), 6000u);
  ASSERT_EQ(origins.size(), 6000u);
  std::map<size_t, size_t> per_doc;
  std::set<std::pair<size_t, size_t>> seen;
  for (size_t k = 0; k < samples.size(); ++k) {
    const auto& w = samples[k];
    ASSERT_EQ(w.size(), seqlen);
    const size_t d = size_t(w[0] / kStride), start = size_t(w[0] % kStride);
    for (size_t i = 0; i < seqlen; ++i) {
      ASSERT_EQ(w[i], int32_t(d) * kStride + int32_t(start + i)) << "window " << k << " is not one piece of one document";
    }
    ASSERT_GT(lengths[d], seqlen) << "window " << k << " from document " << d << " of " << lengths[d] << " tokens";
    // randint(0, n - seqlen - 1): the window never ends on the document's last token.
    ASSERT_LE(start + seqlen, lengths[d] - 1) << "window " << k;
    EXPECT_EQ(origins[k], std::make_pair(d, start));
    ++per_doc[d];
    seen.insert({d, start});
  }
  // Only documents 2 (17), 3 (40), 6 (100), 8 (25) qualify, each about as often (uniform over
  // documents): 1500 expected of each; 1300..1700 is about 6 standard deviations (33.5) each way.
  ASSERT_EQ(per_doc.size(), 4u);
  for (size_t d : {2u, 3u, 6u, 8u}) {
    EXPECT_GT(per_doc[d], 1300u) << "document " << d;
    EXPECT_LT(per_doc[d], 1700u) << "document " << d;
  }
  // Every start of the long documents turns up: 17 → {0}, 40 → 0..23, 100 → 0..83, 25 → 0..8.
  EXPECT_EQ(seen.size(), 1u + 24u + 84u + 9u);
}

TEST(CalibrationDocuments, DeterministicPerSeed) {
  const auto docs = documents({50, 10, 80, 33, 5, 64});
  std::vector<std::vector<int32_t>> a, b, c;
  ASSERT_TRUE(compiler::draw_document_windows(docs, 64, 32, 3, &a).ok());
  ASSERT_TRUE(compiler::draw_document_windows(docs, 64, 32, 3, &b).ok());
  ASSERT_TRUE(compiler::draw_document_windows(docs, 64, 32, 4, &c).ok());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(CalibrationDocuments, NoDocumentLongerThanSeqlenIsAnError) {
  // A document of exactly seqlen tokens does not qualify (the reference's randint(0, -1) fails).
  const auto docs = documents({8, 16, 12});
  std::vector<std::vector<int32_t>> samples;
  format::Status s = compiler::draw_document_windows(docs, 4, 16, 0, &samples);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("more than 16 tokens"), std::string::npos) << s.message();
  s = compiler::draw_document_windows({}, 4, 16, 0, &samples);
  EXPECT_FALSE(s.ok());
  s = compiler::draw_document_windows(docs, 0, 4, 0, &samples);
  EXPECT_FALSE(s.ok());
}

TEST(CalibrationDocuments, DrawNames) {
  EXPECT_EQ(compiler::calib_draw_from_name("stream"), compiler::CalibDraw::stream);
  EXPECT_EQ(compiler::calib_draw_from_name("documents"), compiler::CalibDraw::documents);
  EXPECT_FALSE(compiler::calib_draw_from_name("document").has_value());
  EXPECT_STREQ(compiler::calib_draw_name(compiler::CalibDraw::documents), "documents");
  EXPECT_STREQ(compiler::calib_draw_name(compiler::CalibDraw::stream), "stream");
}

}  // namespace
}  // namespace ingot::test
