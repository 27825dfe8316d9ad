// A container past 2 GiB (and past 4 GiB, so no 32-bit offset survives anywhere): the writer
// streams a sparse 4.5 GiB tensor, the reader maps the file and the last blob reads back.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "sample_container.h"

namespace ingot::test {
namespace {

TEST(FormatLarge, PastFourGiBTheLastBlobReadsBack) {
  TempDir dir;
  const std::string out = dir.file("large.ingot");
  const uint64_t big = (9ull << 29) + 12345;  // 4.5 GiB + a bit: not a multiple of anything
  std::unique_ptr<format::Writer> w;
  ASSERT_TRUE(format::Writer::create(out, {}, &w).ok());
  std::vector<uint8_t> head(1000);
  for (size_t i = 0; i < head.size(); ++i) head[i] = uint8_t(i * 7 + 1);
  ASSERT_TRUE(w->add_tensor({"head", fb::DType::U8, {head.size()}}, format::BlobSource(head)).ok());
  // Zeros except the last byte of every GiB, so its checksum depends on position.
  ASSERT_TRUE(w->add_tensor({"sparse", fb::DType::U8, {big}},
                            format::BlobSource::chunked(big, [](uint64_t off, std::span<uint8_t> out) {
                              std::fill(out.begin(), out.end(), 0);
                              for (uint64_t g = (off >> 30) << 30; g < off + out.size(); g += 1ull << 30) {
                                if (g + (1ull << 30) - 1 >= off && g + (1ull << 30) - 1 < off + out.size()) {
                                  out[g + (1ull << 30) - 1 - off] = uint8_t(1 + (g >> 30));
                                }
                              }
                            }))
                  .ok());
  std::vector<float> tail(777);
  for (size_t i = 0; i < tail.size(); ++i) tail[i] = float(i) * 0.5f - 3.0f;
  ASSERT_TRUE(w->add_tensor({"tail", fb::DType::F32, {tail.size()}},
                            format::BlobSource::of(std::span<const float>(tail)))
                  .ok());
  ASSERT_TRUE(w->finish().ok());

  struct stat st {};
  ASSERT_EQ(stat(out.c_str(), &st), 0);
  EXPECT_GT(uint64_t(st.st_size), 4ull << 30);
  EXPECT_LT(uint64_t(st.st_blocks) * 512, 64ull << 20) << "the zeros are holes";

  std::unique_ptr<format::Container> c;
  const format::Status s = format::Container::open(out, {}, &c);
  ASSERT_TRUE(s.ok()) << s.to_string();
  const fb::Tensor* t = c->find_tensor("tail");
  ASSERT_NE(t, nullptr);
  EXPECT_GT(c->header().data_offset + t->data()->offset(), 4ull << 30);
  format::BlobBytes b;
  ASSERT_TRUE(c->read_tensor(*t, /*verify_checksum=*/true, &b).ok());
  ASSERT_EQ(b.bytes().size(), tail.size() * 4);
  EXPECT_EQ(std::memcmp(b.bytes().data(), tail.data(), b.bytes().size()), 0);

  const fb::Tensor* sp = c->find_tensor("sparse");
  ASSERT_TRUE(c->read_tensor(*sp, true, &b).ok()) << "a 4.5 GiB blob's checksum";
  EXPECT_EQ(b.bytes()[(1ull << 30) - 1], 1);
  EXPECT_EQ(b.bytes()[(4ull << 30) - 1], 4);
  EXPECT_EQ(b.bytes()[(4ull << 30)], 0);
}

}  // namespace
}  // namespace ingot::test
