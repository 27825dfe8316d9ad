// Write -> read gives back every tensor byte and every field; same input -> same bytes.
#include <gtest/gtest.h>

#include <cstring>

#include "ingot/format/header.h"
#include "sample_container.h"

namespace ingot::test {
namespace {

using format::Container;
using format::Status;

std::vector<uint8_t> bytes_of(const format::BlobBytes& b) { return {b.bytes().begin(), b.bytes().end()}; }

void expect_matches(const Sample& s, const Container& c) {
  ASSERT_EQ(c.n_tensors(), s.tensors.size());
  for (size_t i = 0; i < s.tensors.size(); ++i) {
    const SampleTensor& want = s.tensors[i];
    const fb::Tensor* t = c.find_tensor(want.desc.name);
    ASSERT_NE(t, nullptr) << want.desc.name;
    EXPECT_EQ(t, &c.tensor(i)) << "tensor order is insertion order";
    EXPECT_EQ(t->dtype(), want.desc.dtype);
    EXPECT_EQ(t->layout(), want.desc.layout);
    EXPECT_EQ(std::vector<uint64_t>(t->shape()->begin(), t->shape()->end()), want.desc.shape);
    format::BlobBytes data;
    ASSERT_TRUE(c.read_tensor(*t, true, &data).ok());
    EXPECT_EQ(bytes_of(data), want.data) << want.desc.name;
    EXPECT_EQ(data.bytes().size(), t->data()->raw_size());
    ASSERT_EQ(t->quant() != nullptr, want.quantized);
    if (!want.quantized) continue;
    const fb::Quantization& q = *t->quant();
    EXPECT_EQ(q.method(), want.quant.method);
    EXPECT_EQ(q.bits(), want.quant.bits);
    EXPECT_EQ(q.group_size(), want.quant.group_size);
    EXPECT_EQ(q.symmetric(), want.quant.symmetric);
    EXPECT_EQ(q.act_order(), want.quant.act_order);
    const std::pair<const fb::Blob*, const std::vector<uint8_t>*> parts[] = {
        {q.scales(), &want.scales}, {q.zeros(), &want.zeros}, {q.perm(), &want.perm}};
    for (const auto& [blob, expected] : parts) {
      ASSERT_EQ(blob != nullptr, !expected->empty());
      if (blob == nullptr) continue;
      format::BlobBytes b;
      ASSERT_TRUE(c.read_blob(*blob, "part", true, &b).ok());
      EXPECT_EQ(bytes_of(b), *expected);
    }
  }
  const fb::Index& idx = c.index();
  fb::ModelConfigT config;
  idx.config()->UnPackTo(&config);
  EXPECT_TRUE(config == s.config());
  fb::TokenizerT tok;
  idx.tokenizer()->UnPackTo(&tok);
  EXPECT_TRUE(tok == s.tokenizer());
  fb::ProvenanceT prov;
  idx.provenance()->UnPackTo(&prov);
  EXPECT_TRUE(prov == s.provenance());
  std::map<std::string, std::string> meta;
  for (const fb::KeyValue* kv : *idx.metadata()) meta[kv->key()->str()] = kv->value()->str();
  EXPECT_EQ(meta, s.metadata);
}

TEST(FormatRoundTrip, EveryTensorAndFieldComesBack) {
  TempDir dir;
  const Sample s = make_sample(1);
  for (const bool compress : {false, true}) {
    for (const uint32_t alignment : {64u, 4096u, 1u << 20}) {
      SCOPED_TRACE("compress=" + std::to_string(compress) + " alignment=" + std::to_string(alignment));
      const std::string path = dir.file("rt.ingot");
      ASSERT_TRUE(write_sample(s, path, {.alignment = alignment, .compress = compress}).ok());
      std::unique_ptr<Container> c;
      const Status st = Container::open(path, {.verify_checksums = true}, &c);
      ASSERT_TRUE(st.ok()) << st.to_string();
      expect_matches(s, *c);
      EXPECT_EQ(c->header().alignment, alignment);
      EXPECT_EQ(c->header().data_offset % alignment, 0u);
      for (const format::BlobRef& b : c->blobs()) EXPECT_EQ(b.blob->offset() % alignment, 0u) << b.what;
      EXPECT_TRUE(c->verify().ok());
    }
  }
}

TEST(FormatRoundTrip, UncompressedBlobsAreZeroCopyViewsIntoTheMapping) {
  TempDir dir;
  const Sample s = make_sample(2);
  ASSERT_TRUE(write_sample(s, dir.file("a.ingot"), {}).ok());
  std::unique_ptr<Container> c;
  ASSERT_TRUE(Container::open(dir.file("a.ingot"), {}, &c).ok());
  const fb::Tensor* t = c->find_tensor("tok_embeddings.weight");
  format::BlobBytes b;
  ASSERT_TRUE(c->read_tensor(*t, false, &b).ok());
  EXPECT_TRUE(b.is_view());
  const uint8_t* base = c->file_bytes().data();
  EXPECT_EQ(b.bytes().data(), base + c->header().data_offset + t->data()->offset());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.bytes().data()) % 4096, 0u) << "page-aligned for mmap consumers";
}

TEST(FormatRoundTrip, CompressionIsUsedOnlyWhereItSaves) {
  TempDir dir;
  const Sample s = make_sample(3);
  ASSERT_TRUE(write_sample(s, dir.file("z.ingot"), {.compress = true}).ok());
  std::unique_ptr<Container> c;
  ASSERT_TRUE(Container::open(dir.file("z.ingot"), {}, &c).ok());
  // The ramp compresses; random bytes do not and stay raw.
  EXPECT_EQ(c->find_tensor("output.weight")->data()->compression(), fb::Compression::Zstd);
  EXPECT_LT(c->find_tensor("output.weight")->data()->size(), c->find_tensor("output.weight")->data()->raw_size());
  EXPECT_EQ(c->find_tensor("tok_embeddings.weight")->data()->compression(), fb::Compression::None);
  format::BlobBytes b;
  ASSERT_TRUE(c->read_tensor(*c->find_tensor("output.weight"), true, &b).ok());
  EXPECT_FALSE(b.is_view());
}

TEST(FormatRoundTrip, DeterministicBytes) {
  TempDir dir;
  for (const bool compress : {false, true}) {
    ASSERT_TRUE(write_sample(make_sample(7), dir.file("a.ingot"), {.compress = compress}).ok());
    ASSERT_TRUE(write_sample(make_sample(7), dir.file("b.ingot"), {.compress = compress}).ok());
    EXPECT_EQ(read_file(dir.file("a.ingot")), read_file(dir.file("b.ingot"))) << "compress=" << compress;
  }
  // And a different content gives a different file (the comparison above can fail).
  ASSERT_TRUE(write_sample(make_sample(8), dir.file("c.ingot"), {}).ok());
  EXPECT_NE(read_file(dir.file("a.ingot")), read_file(dir.file("c.ingot")));
}

TEST(FormatRoundTrip, EmptyContainerIsValid) {
  TempDir dir;
  std::unique_ptr<format::Writer> w;
  ASSERT_TRUE(format::Writer::create(dir.file("e.ingot"), {}, &w).ok());
  ASSERT_TRUE(w->finish().ok());
  std::unique_ptr<Container> c;
  const Status st = Container::open(dir.file("e.ingot"), {.verify_checksums = true}, &c);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(c->n_tensors(), 0u);
  EXPECT_EQ(c->header().data_size, 0u);
}

TEST(FormatRoundTrip, HeaderMatchesTheSpecLayout) {
  TempDir dir;
  ASSERT_TRUE(write_sample(make_sample(4), dir.file("h.ingot"), {}).ok());
  const std::vector<uint8_t> f = read_file(dir.file("h.ingot"));
  // Bytes as spec/container.md lays them out, read here without the format library.
  const uint8_t magic[8] = {0x89, 'I', 'N', 'G', 'O', 'T', '\r', '\n'};
  EXPECT_EQ(std::memcmp(f.data(), magic, 8), 0);
  auto u16 = [&](size_t o) { return uint16_t(f[o] | f[o + 1] << 8); };
  auto u32 = [&](size_t o) { return uint32_t(u16(o)) | uint32_t(u16(o + 2)) << 16; };
  auto u64 = [&](size_t o) { return uint64_t(u32(o)) | uint64_t(u32(o + 4)) << 32; };
  EXPECT_EQ(u16(8), 1);
  EXPECT_EQ(u16(10), 1);  // minor 1 (spec/container.md §2, §10)
  EXPECT_EQ(u32(12), 80u);
  EXPECT_EQ(u32(16), 4096u);
  EXPECT_EQ(u64(24), 80u);
  const uint64_t index_size = u64(32), data_offset = u64(48), data_size = u64(56);
  EXPECT_EQ(data_offset % 4096, 0u);
  EXPECT_GE(data_offset, 80 + index_size);
  EXPECT_EQ(data_offset + data_size, f.size());
  EXPECT_EQ(std::memcmp(f.data() + 80 + 4, "INGT", 4), 0) << "FlatBuffers file_identifier";
  EXPECT_EQ(u64(40), format::checksum({f.data() + 80, size_t(index_size)}));
  EXPECT_EQ(u64(72), format::checksum({f.data(), 72}));
}

}  // namespace
}  // namespace ingot::test
