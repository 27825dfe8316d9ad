// The corruption matrix: thousands of seeded damages to valid containers. Every case must end in
// a clear error from open() or verify() (or, where the damage re-signs the header or index, in a
// clean error or a self-consistent file), never in a crash or a read outside the buffer: this
// suite runs under ASan+UBSan in CI, on heap copies so any stray read is caught.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <random>

#include "ingot/format/header.h"
#include "sample_container.h"

namespace ingot::test {
namespace {

using format::Container;
using format::Status;
using format::StatusCode;
using Bytes = std::vector<uint8_t>;

enum class Outcome { open_failed, verify_failed, accepted };

struct Result {
  Outcome outcome;
  Status status;
};

uint64_t get_u64(const Bytes& f, size_t off) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | f[off + i];
  return v;
}
void put_le(Bytes& f, size_t off, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) f[off + i] = uint8_t(v >> (8 * i));
}

// Re-signs the header (and the index, when asked) as a writer would, so damage reaches the checks
// behind the checksums. Offsets come from the spec's header table.
void resign(Bytes& f, bool index_too) {
  if (index_too) {
    const uint64_t off = get_u64(f, 24), size = get_u64(f, 32);
    if (off + size <= f.size()) put_le(f, 40, format::checksum({f.data() + off, size_t(size)}), 8);
  }
  put_le(f, 72, format::checksum({f.data(), 72}), 8);
}

Result run_case(const Bytes& f) {
  // A fresh heap copy of exactly the file's size: ASan sees any read past it.
  const std::unique_ptr<uint8_t[]> copy(new uint8_t[f.size() + (f.empty() ? 1 : 0)]);
  if (!f.empty()) std::memcpy(copy.get(), f.data(), f.size());
  std::unique_ptr<Container> c;
  Status s = Container::open_memory({copy.get(), f.size()}, {}, &c);
  if (!s.ok()) return {Outcome::open_failed, s};
  // Read everything the index points at, without and with checks.
  volatile uint64_t sink = 0;
  for (const format::BlobRef& b : c->blobs()) {
    format::BlobBytes bytes;
    if (c->read_blob(*b.blob, b.what, false, &bytes).ok()) {
      for (uint8_t x : bytes.bytes()) sink = sink + x;
    }
  }
  for (size_t i = 0; i < c->n_tensors(); ++i) {
    EXPECT_EQ(c->find_tensor(c->tensor(i).name()->string_view()), &c->tensor(i));
  }
  s = c->verify();
  if (!s.ok()) return {Outcome::verify_failed, s};
  return {Outcome::accepted, s};
}

class CorruptionMatrix : public ::testing::Test {
 protected:
  void SetUp() override {
    TempDir dir;
    // Two bases: compressed at the smallest alignment, and plain at the default page alignment.
    ASSERT_TRUE(write_sample(make_sample(11), dir.file("a.ingot"), {.alignment = 64, .compress = true}).ok());
    ASSERT_TRUE(write_sample(make_sample(12), dir.file("b.ingot"), {}).ok());
    bases_ = {read_file(dir.file("a.ingot")), read_file(dir.file("b.ingot"))};
    for (const Bytes& b : bases_) ASSERT_EQ(run_case(b).outcome, Outcome::accepted);
    const char* seed = std::getenv("INGOT_CORRUPTION_SEED");
    rng_.seed(seed ? uint32_t(std::strtoul(seed, nullptr, 10)) : 20261128u);
  }

  // Section edges of a base: header, index, data, every blob's start and end.
  std::vector<uint64_t> edges(const Bytes& f) {
    std::unique_ptr<Container> c;
    EXPECT_TRUE(Container::open_memory(f, {}, &c).ok());
    const format::Header& h = c->header();
    std::vector<uint64_t> e = {0, 1, 7, 8, 12, 16, 24, 40, 71, 72, 79, 80, h.index_offset + 4, h.index_offset + 8,
                               h.index_offset + h.index_size - 1, h.index_offset + h.index_size, h.data_offset - 1,
                               h.data_offset, h.data_offset + 1, f.size() - 1};
    for (const format::BlobRef& b : c->blobs()) {
      const uint64_t start = h.data_offset + b.blob->offset(), end = start + b.blob->size();
      e.insert(e.end(), {start - 1, start, start + 1, end - 1, end, end + 1});
    }
    return e;
  }

  // Every outcome must carry a message; `must_fail` cases must not be accepted.
  void expect(const Result& r, bool must_fail, const std::string& what) {
    ++cases_;
    ++by_outcome_[int(r.outcome)];
    if (r.outcome != Outcome::accepted) {
      EXPECT_FALSE(r.status.message().empty()) << what;
    } else if (must_fail) {
      ADD_FAILURE() << what << ": damaged file was accepted";
    }
  }

  void TearDown() override {
    std::printf("[ corruption ] %d cases: %d failed open, %d failed verify, %d accepted (re-signed, self-consistent)\n",
                cases_, by_outcome_[0], by_outcome_[1], by_outcome_[2]);
  }

  std::vector<Bytes> bases_;
  std::mt19937 rng_;
  int cases_ = 0;
  int by_outcome_[3] = {0, 0, 0};
};

TEST_F(CorruptionMatrix, TruncationAtEveryEdgeAndAtRandom) {
  for (const Bytes& base : bases_) {
    for (uint64_t cut : edges(base)) {
      if (cut >= base.size()) continue;
      const Result r = run_case(Bytes(base.begin(), base.begin() + cut));
      expect(r, true, "truncate at " + std::to_string(cut));
      EXPECT_EQ(r.outcome, Outcome::open_failed);
      EXPECT_TRUE(r.status.code() == StatusCode::truncated || r.status.code() == StatusCode::bad_magic) << r.status.to_string();
    }
    for (int i = 0; i < 150; ++i) {
      const size_t cut = rng_() % base.size();
      const Result r = run_case(Bytes(base.begin(), base.begin() + cut));
      expect(r, true, "truncate at " + std::to_string(cut));
      EXPECT_EQ(r.outcome, Outcome::open_failed);
    }
    // Appended bytes are damage too.
    Bytes longer = base;
    longer.push_back(0);
    expect(run_case(longer), true, "one byte appended");
  }
  EXPECT_GE(cases_, 300);
}

TEST_F(CorruptionMatrix, SingleAndMultiByteFlipsAnywhereAreDetected) {
  for (const Bytes& base : bases_) {
    // Every byte of the header, then every edge, then random positions.
    std::vector<uint64_t> positions;
    for (uint64_t i = 0; i < format::kHeaderSize; ++i) positions.push_back(i);
    for (uint64_t e : edges(base)) if (e < base.size()) positions.push_back(e);
    for (int i = 0; i < 500; ++i) positions.push_back(rng_() % base.size());
    for (uint64_t pos : positions) {
      Bytes f = base;
      f[pos] ^= uint8_t(1 + rng_() % 255);
      expect(run_case(f), true, "flip at " + std::to_string(pos));
    }
    for (int i = 0; i < 250; ++i) {
      Bytes f = base;
      const size_t len = 2 + rng_() % 31, pos = rng_() % (base.size() - len);
      for (size_t k = 0; k < len; ++k) f[pos + k] ^= uint8_t(1 + rng_() % 255);
      expect(run_case(f), true, "flip " + std::to_string(len) + " bytes at " + std::to_string(pos));
    }
  }
  EXPECT_GE(cases_, 1500);
}

TEST_F(CorruptionMatrix, AbsurdHeaderFieldsBehindAValidChecksum) {
  const uint64_t values[] = {0, 1, 7, 63, 64, 80, 4095, 4096, 1ull << 31, 1ull << 32, (1ull << 63) - 1, 1ull << 63,
                             ~0ull, ~0ull - 4095};
  struct Field {
    size_t off, size;
  };
  const Field fields[] = {{12, 4}, {16, 4}, {20, 4}, {24, 8}, {32, 8}, {40, 8}, {48, 8}, {56, 8}, {64, 8}};
  for (const Bytes& base : bases_) {
    for (const Field& fld : fields) {
      for (uint64_t v : values) {
        Bytes f = base;
        put_le(f, fld.off, v, fld.size);
        if (f == base) continue;
        resign(f, false);
        const Result r = run_case(f);
        // A smaller power-of-two alignment that every blob still meets describes the same file.
        const bool same_file = fld.off == 16 && format::is_power_of_two(v) && v >= 64 && v < get_u64(base, 16);
        expect(r, !same_file, "header field @" + std::to_string(fld.off) + " = " + std::to_string(v));
        if (!same_file) {
          EXPECT_EQ(r.outcome, Outcome::open_failed);
        }
      }
    }
    // Near-valid data sizes: off by one and by the alignment.
    for (int64_t d : {-4096, -64, -1, 1, 64, 4096}) {
      Bytes f = base;
      put_le(f, 56, get_u64(base, 56) + uint64_t(d), 8);
      resign(f, false);
      expect(run_case(f), true, "data_size " + std::to_string(d));
    }
  }
  EXPECT_GE(cases_, 200);
}

TEST_F(CorruptionMatrix, WrongMagicAndNewerVersions) {
  for (const Bytes& base : bases_) {
    for (size_t i = 0; i < 8; ++i) {
      Bytes f = base;
      f[i] ^= 0x20;
      const Result r = run_case(f);
      expect(r, true, "magic byte " + std::to_string(i));
      EXPECT_EQ(r.status.code(), StatusCode::bad_magic);
    }
    for (uint16_t major : {2, 3, 255, 65535}) {
      Bytes f = base;
      put_le(f, 8, major, 2);
      put_le(f, 10, 7, 2);
      resign(f, false);
      const Result r = run_case(f);
      expect(r, true, "major " + std::to_string(major));
      EXPECT_EQ(r.status.code(), StatusCode::unsupported_version);
      EXPECT_NE(r.status.message().find(std::to_string(major) + ".7"), std::string::npos) << r.status.message();
      EXPECT_NE(r.status.message().find("1."), std::string::npos) << r.status.message();
    }
    // A newer minor version of the same major is read.
    Bytes f = base;
    put_le(f, 10, 9, 2);
    resign(f, false);
    EXPECT_EQ(run_case(f).outcome, Outcome::accepted);
  }
}

// Damage inside the index, re-signed so it passes the checksum: the Verifier and the semantic
// checks must catch it.
TEST_F(CorruptionMatrix, AbsurdCountsOffsetsAndSizesInsideTheIndex) {
  const uint64_t absurd[] = {0, 1, 63, 65, 4096, 1ull << 31, 1ull << 32, 1ull << 40, (1ull << 63) + 64, ~0ull};
  for (const Bytes& base : bases_) {
    const uint64_t index_off = get_u64(base, 24);
    const auto index_of = [&](Bytes& f) { return fb::GetMutableIndex(f.data() + index_off); };
    Bytes probe = base;
    const size_t n_tensors = index_of(probe)->tensors()->size();
    for (size_t t = 0; t < n_tensors; ++t) {
      for (int part = 0; part < 4; ++part) {
        for (int field = 0; field < 4; ++field) {
          for (uint64_t v : absurd) {
            Bytes f = base;
            fb::Tensor* tensor = index_of(f)->mutable_tensors()->GetMutableObject(flatbuffers::uoffset_t(t));
            fb::Quantization* q = tensor->mutable_quant();
            fb::Blob* blob = part == 0 ? tensor->mutable_data()
                             : q == nullptr ? nullptr
                             : part == 1    ? q->mutable_scales()
                             : part == 2    ? q->mutable_zeros()
                                            : q->mutable_perm();
            if (blob == nullptr) continue;
            if (field == 0) blob->mutate_offset(v);
            if (field == 1) blob->mutate_size(v);
            if (field == 2) blob->mutate_raw_size(v);
            if (field == 3) blob->mutate_checksum(v);
            if (f == base) continue;
            resign(f, true);
            expect(run_case(f), true, "tensor " + std::to_string(t) + " blob " + std::to_string(part) + " field " +
                                          std::to_string(field) + " = " + std::to_string(v));
          }
        }
      }
      // Shape, dtype, layout, quantization parameters.
      for (uint64_t v : absurd) {
        Bytes f = base;
        fb::Tensor* tensor = index_of(f)->mutable_tensors()->GetMutableObject(flatbuffers::uoffset_t(t));
        tensor->mutable_shape()->Mutate(0, v);
        if (f == base) continue;
        resign(f, true);
        expect(run_case(f), true, "shape[0] = " + std::to_string(v));
      }
      for (int v : {16, 17, 99, 255}) {
        Bytes f = base;
        fb::Tensor* tensor = index_of(f)->mutable_tensors()->GetMutableObject(flatbuffers::uoffset_t(t));
        if (!tensor->mutate_dtype(fb::DType(v))) continue;  // field at its default: not in the buffer
        resign(f, true);
        expect(run_case(f), true, "dtype " + std::to_string(v));
      }
      if (fb::Quantization* q0 = index_of(probe)->mutable_tensors()->GetMutableObject(flatbuffers::uoffset_t(t))->mutable_quant()) {
        (void)q0;
        for (int g : {0, -2, -1000, 1 << 30}) {
          Bytes f = base;
          fb::Quantization* q = index_of(f)->mutable_tensors()->GetMutableObject(flatbuffers::uoffset_t(t))->mutable_quant();
          if (!q->mutate_group_size(g)) continue;
          resign(f, true);
          // A huge group is a legal single group when the scales happen to be sized for one.
          const Result r = run_case(f);
          expect(r, g != (1 << 30), "group_size " + std::to_string(g));
        }
        for (int bits : {0, 1, 5, 200}) {
          Bytes f = base;
          fb::Quantization* q = index_of(f)->mutable_tensors()->GetMutableObject(flatbuffers::uoffset_t(t))->mutable_quant();
          if (!q->mutate_bits(uint8_t(bits))) continue;
          resign(f, true);
          expect(run_case(f), true, "bits " + std::to_string(bits));
        }
      }
    }
    // Vector lengths and string lengths (the uoffset before their first element).
    // Shortening an optional list (metadata, scores) leaves a smaller but valid file; growing any
    // list, or shortening the tensors (their blobs become stray bytes), must fail.
    const auto set_len = [&](const void* vec, uint32_t v, const std::string& what, bool shorter_is_valid) {
      Bytes f = base;
      const size_t at = size_t(static_cast<const uint8_t*>(vec) - probe.data());
      const uint32_t was = uint32_t(get_u64(base, at));
      put_le(f, at, v, 4);
      if (f == base) return;
      resign(f, true);
      expect(run_case(f), !(shorter_is_valid && v < was), what + " length " + std::to_string(v));
    };
    const fb::Index* idx = fb::GetIndex(probe.data() + index_off);
    for (uint32_t v : {0u, 1u, 1000u, 0x7fffffffu, 0xfffffff0u, 0xffffffffu}) {
      set_len(idx->tensors(), v, "tensors", false);
      set_len(idx->tokenizer()->pieces(), v, "pieces", false);
      set_len(idx->tokenizer()->scores(), v, "scores", v == 0);
      set_len(idx->tokenizer()->types(), v, "types", v == 0);
      set_len(idx->tensors()->Get(0)->shape(), v, "shape", false);
      set_len(idx->tensors()->Get(1)->name(), v, "name", false);
      set_len(idx->metadata(), v, "metadata", true);
    }
    // Config ids outside the vocabulary, tokens with bad ids.
    for (int32_t v : {-2, 40, 1 << 30}) {
      Bytes f = base;
      index_of(f)->mutable_config()->mutate_bos_id(v);
      resign(f, true);
      expect(run_case(f), true, "bos_id " + std::to_string(v));
      f = base;
      index_of(f)->mutable_tokenizer()->mutable_special_tokens()->GetMutableObject(0)->mutate_id(v);
      resign(f, true);
      expect(run_case(f), true, "special token id " + std::to_string(v));
    }
  }
  EXPECT_GE(cases_, 600);
}

// Random damage to the index bytes, re-signed: no expectation on the outcome beyond a clean one.
TEST_F(CorruptionMatrix, RandomIndexDamageBehindAValidChecksum) {
  for (const Bytes& base : bases_) {
    const uint64_t off = get_u64(base, 24), size = get_u64(base, 32);
    for (int i = 0; i < 400; ++i) {
      Bytes f = base;
      const int n = 1 + int(rng_() % 4);
      for (int k = 0; k < n; ++k) f[off + rng_() % size] ^= uint8_t(1 + rng_() % 255);
      resign(f, true);
      expect(run_case(f), false, "index damage " + std::to_string(i));
    }
  }
  EXPECT_GE(cases_, 800);
}

}  // namespace
}  // namespace ingot::test

namespace ingot::test {
namespace {

// Inputs the fuzzer once crashed on (tests/fuzz/regressions): each must now fail cleanly.
TEST(CorruptionRegressions, FuzzerFindingsFailCleanly) {
  const std::filesystem::path dir = std::filesystem::path(INGOT_SOURCE_DIR) / "tests/fuzz/regressions";
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const Result r = run_case(read_file(entry.path().string()));
    EXPECT_EQ(r.outcome, Outcome::open_failed) << entry.path();
    EXPECT_FALSE(r.status.message().empty());
    ++n;
  }
  EXPECT_GE(n, 1u);
}

TEST(CorruptionRegressions, MisalignedBuffersAreRefusedByOpenMemory) {
  TempDir dir;
  ASSERT_TRUE(write_sample(make_sample(1), dir.file("a.ingot"), {}).ok());
  const Bytes f = read_file(dir.file("a.ingot"));
  std::vector<uint64_t> storage(f.size() / 8 + 2);
  uint8_t* misaligned = reinterpret_cast<uint8_t*>(storage.data()) + 4;
  std::memcpy(misaligned, f.data(), f.size());
  std::unique_ptr<Container> c;
  const Status s = Container::open_memory({misaligned, f.size()}, {}, &c);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_NE(s.message().find("aligned"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace ingot::test
