// libFuzzer target over the container reader (format/src/reader.cpp, header.cpp, layout.cpp).
//
// Every input is opened with Container::open_memory. A clean error must carry a message; a
// container that opens is then read in every way the API allows (verify, every blob with and
// without checksum, every tensor by name, config, tokenizer, provenance, metadata), touching
// every byte handed out so AddressSanitizer sees any read outside the input.
//
// Checksums would stop almost every mutation at the header: so each input is also tried with
// its checksums repaired (header and index checksums, then also every blob checksum), which
// lets the fuzzer reach the index validation, the blob reads and the padding checks.
//
// Invariants checked besides "no sanitizer report" (each breach is __builtin_trap):
//   - a failed open leaves *out untouched and has a non-empty message;
//   - open with verify_checksums succeeds exactly when open without it succeeds and verify() does;
//   - find_tensor(name of tensor i) is tensor i;
//   - a blob read that succeeds has exactly raw_size bytes, with or without checksum check,
//     and both reads give the same bytes;
//   - after verify() succeeds, every checked read succeeds.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "ingot/format/constants.h"
#include "ingot/format/header.h"
#include "ingot/format/reader.h"
#include "ingot/format/status.h"

namespace {

using ingot::format::BlobBytes;
using ingot::format::BlobRef;
using ingot::format::Container;
using ingot::format::OpenOptions;
using ingot::format::Status;

#define FUZZ_CHECK(cond)          \
  do {                            \
    if (!(cond)) __builtin_trap(); \
  } while (0)

// Keeps every load alive: ASan checks the reads, the optimiser cannot drop them.
volatile uint64_t g_sink = 0;

uint64_t touch(std::span<const uint8_t> bytes) {
  uint64_t s = 0;
  for (uint8_t b : bytes) s = s * 31 + b;
  return s;
}
uint64_t touch(std::string_view s) {
  return touch(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}
uint64_t touch(const flatbuffers::String* s) {
  if (s == nullptr) return 0;
  // Also the terminating NUL FlatBuffers promises (the verifier checks it).
  return touch(s->string_view()) + uint8_t(s->c_str()[s->size()]);
}
uint64_t touch(const char* s) { return touch(std::string_view(s)); }

void check_error(const Status& s) {
  FUZZ_CHECK(!s.ok());
  FUZZ_CHECK(!s.message().empty());
  FUZZ_CHECK(!s.to_string().empty());
  g_sink = g_sink + touch(ingot::format::status_code_name(s.code()));
}

uint64_t touch_config(const ingot::fb::ModelConfig& c) {
  uint64_t s = touch(c.architecture());
  s += c.dim() + c.n_layer() + c.n_head() + c.n_head_kv() + c.head_dim() + c.ffn_dim() + c.vocab_size();
  s += uint64_t(c.rope_theta() != 0) + uint64_t(c.norm_eps() != 0) + c.context_length() + c.tied_embeddings();
  s += uint64_t(c.bos_id()) + uint64_t(c.eos_id()) + uint64_t(c.pad_id()) + uint64_t(c.unk_id());
  s += touch(ingot::format::rope_form_name(c.rope_form()));
  if (const auto* rs = c.rope_scaling()) {
    s += touch(ingot::format::rope_scaling_name(rs->type()));
    s += uint64_t(rs->factor() != 0) + uint64_t(rs->low_freq_factor() != 0) + uint64_t(rs->high_freq_factor() != 0);
    s += rs->original_context_length();
  }
  if (const auto* ids = c.extra_eos_ids()) {
    for (int32_t id : *ids) {
      FUZZ_CHECK(id >= 0 && uint64_t(id) < c.vocab_size());  // validate() promises this
      s += uint64_t(id);
    }
  }
  return s;
}

uint64_t touch_tokenizer(const ingot::fb::Tokenizer& t, const ingot::fb::ModelConfig* config) {
  uint64_t s = touch(ingot::format::tokenizer_kind_name(t.kind()));
  size_t n = 0;
  if (const auto* pieces = t.pieces()) {
    n = pieces->size();
    for (const flatbuffers::String* p : *pieces) s += touch(p);
  }
  if (config != nullptr) FUZZ_CHECK(n <= config->vocab_size());
  if (const auto* scores = t.scores()) {
    FUZZ_CHECK(scores->size() == 0 || scores->size() == n);
    for (float f : *scores) s += uint64_t(f == f);
  }
  if (const auto* types = t.types()) {
    FUZZ_CHECK(types->size() == 0 || types->size() == n);
    for (size_t i = 0; i < types->size(); ++i) s += uint8_t(types->Get(flatbuffers::uoffset_t(i)));
  }
  if (const auto* merges = t.merges()) {
    for (const flatbuffers::String* m : *merges) s += touch(m);
  }
  if (const auto* specials = t.special_tokens()) {
    for (const ingot::fb::SpecialToken* st : *specials) {
      s += touch(st->content());
      FUZZ_CHECK(st->id() >= 0 && uint64_t(st->id()) < n);  // validate() promises this
      // The piece a special token names is in bounds.
      s += touch(t.pieces()->Get(flatbuffers::uoffset_t(st->id())));
    }
  }
  s += touch(t.pre_tokenizer_pattern()) + touch(t.chat_template());
  s += t.add_bos() + t.add_eos() + t.add_dummy_prefix() + t.byte_fallback();
  return s;
}

uint64_t touch_kvs(const flatbuffers::Vector<flatbuffers::Offset<ingot::fb::KeyValue>>* kvs) {
  uint64_t s = 0;
  if (kvs == nullptr) return s;
  for (const ingot::fb::KeyValue* kv : *kvs) s += touch(kv->key()) + touch(kv->value());
  return s;
}

uint64_t touch_digests(const flatbuffers::Vector<flatbuffers::Offset<ingot::fb::Digest>>* ds) {
  uint64_t s = 0;
  if (ds == nullptr) return s;
  for (const ingot::fb::Digest* d : *ds) s += touch(d->name()) + d->xxh3() + d->size();
  return s;
}

uint64_t touch_provenance(const ingot::fb::Provenance& p) {
  uint64_t s = touch(p.compiler()) + touch_kvs(p.options()) + touch_digests(p.sources()) +
               touch_digests(p.calibration());
  if (const auto* losses = p.layer_losses()) {
    for (const ingot::fb::LayerLoss* l : *losses) {
      s += touch(l->tensor()) + touch(l->note()) + uint64_t(l->loss() == l->loss()) + uint64_t(l->damp() == l->damp());
    }
  }
  return s;
}

// Reads one blob with and without its checksum check; returns whether the checked read succeeded.
bool read_both_ways(const Container& c, const ingot::fb::Blob& blob, std::string_view what) {
  g_sink = g_sink + touch(ingot::format::compression_name(blob.compression()));
  BlobBytes raw;
  const Status s_raw = c.read_blob(blob, what, /*verify_checksum=*/false, &raw);
  if (s_raw.ok()) {
    FUZZ_CHECK(raw.bytes().size() == blob.raw_size());
    g_sink = g_sink + touch(raw.bytes());
  } else {
    check_error(s_raw);
  }
  BlobBytes checked;
  const Status s_checked = c.read_blob(blob, what, /*verify_checksum=*/true, &checked);
  if (s_checked.ok()) {
    FUZZ_CHECK(s_raw.ok());  // a checksum check can only add failures
    FUZZ_CHECK(checked.bytes().size() == blob.raw_size());
    FUZZ_CHECK(checked.is_view() == raw.is_view());
    FUZZ_CHECK(raw.bytes().empty() ||
               std::memcmp(checked.bytes().data(), raw.bytes().data(), raw.bytes().size()) == 0);
    g_sink = g_sink + touch(checked.bytes());
  } else {
    check_error(s_checked);
  }
  return s_checked.ok();
}

// Everything a caller can do with an open container.
void exercise(const Container& c, bool verified) {
  const ingot::format::Header& h = c.header();
  g_sink = g_sink + h.major + h.minor + h.header_size + h.alignment + h.index_offset + h.index_size + h.data_offset +
           h.data_size;
  FUZZ_CHECK(c.file_size() == c.file_bytes().size());
  FUZZ_CHECK(h.data_offset + h.data_size == c.file_size());

  const ingot::fb::Index& index = c.index();
  if (const auto* config = index.config()) g_sink = g_sink + touch_config(*config);
  if (const auto* tok = index.tokenizer()) g_sink = g_sink + touch_tokenizer(*tok, index.config());
  if (const auto* prov = index.provenance()) g_sink = g_sink + touch_provenance(*prov);
  g_sink = g_sink + touch_kvs(index.metadata());

  const size_t n = c.n_tensors();
  for (size_t i = 0; i < n; ++i) {
    const ingot::fb::Tensor& t = c.tensor(i);
    const std::string_view name = t.name()->string_view();
    FUZZ_CHECK(!name.empty());
    FUZZ_CHECK(c.find_tensor(name) == &t);
    g_sink = g_sink + touch(name) + touch(ingot::format::dtype_name(t.dtype())) +
             touch(ingot::format::layout_name(t.layout()));
    if (const auto* shape = t.shape()) {
      for (uint64_t d : *shape) g_sink = g_sink + d;
    }
    if (const ingot::fb::Quantization* q = t.quant()) {
      g_sink = g_sink + touch(ingot::format::quant_method_name(q->method())) + q->bits() + uint64_t(q->group_size()) +
               q->symmetric() + q->act_order() + q->static_groups() +
               touch(ingot::format::dtype_name(q->scales_dtype())) + touch(ingot::format::dtype_name(q->zeros_dtype()));
      FUZZ_CHECK(q->scales() != nullptr);  // validate() promises this
    }
    BlobBytes data;
    const Status s = c.read_tensor(t, /*verify_checksum=*/true, &data);
    if (s.ok()) {
      FUZZ_CHECK(data.bytes().size() == t.data()->raw_size());
      g_sink = g_sink + touch(data.bytes());
    } else {
      check_error(s);
      FUZZ_CHECK(!verified);
    }
  }
  FUZZ_CHECK(c.find_tensor("") == nullptr);  // validate() rejects empty names

  const std::vector<BlobRef> blobs = c.blobs();
  uint64_t end = 0;
  for (const BlobRef& ref : blobs) {
    FUZZ_CHECK(ref.blob != nullptr && !ref.what.empty());
    // Sorted, inside the data section and not overlapping.
    FUZZ_CHECK(ref.blob->offset() >= end);
    end = ref.blob->offset() + ref.blob->size();
    FUZZ_CHECK(end <= h.data_size);
    const bool ok = read_both_ways(c, *ref.blob, ref.what);
    FUZZ_CHECK(ok || !verified);
  }
}

// Opens `bytes` both ways and exercises the result. Returns the Container when it opened.
std::unique_ptr<Container> open_and_exercise(std::span<const uint8_t> bytes) {
  std::unique_ptr<Container> c;
  const Status s = Container::open_memory(bytes, OpenOptions{}, &c);
  if (!s.ok()) {
    check_error(s);
    FUZZ_CHECK(c == nullptr);  // *out untouched on failure
    return nullptr;
  }
  FUZZ_CHECK(c != nullptr);

  const Status v = c->verify();
  if (!v.ok()) check_error(v);

  std::unique_ptr<Container> checked;
  OpenOptions verify_opts;
  verify_opts.verify_checksums = true;
  const Status sc = Container::open_memory(bytes, verify_opts, &checked);
  FUZZ_CHECK(sc.ok() == v.ok());
  if (!sc.ok()) {
    check_error(sc);
    FUZZ_CHECK(checked == nullptr);
  }

  exercise(*c, v.ok());
  return c;
}

uint64_t load_u64(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v |= uint64_t(b[at + i]) << (8 * i);
  return v;
}
void store_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  for (size_t i = 0; i < 8; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

// Recomputes the index checksum (when the index lies inside the file) and the header checksum
// (when header_size is sane), so mutations of the index and header fields get past them.
// Returns false when nothing could be repaired.
bool repair_checksums(std::vector<uint8_t>& b) {
  namespace hdr = ingot::format::header;
  if (b.size() < ingot::format::kHeaderSize) return false;
  uint32_t header_size = 0;
  for (size_t i = 0; i < 4; ++i) header_size |= uint32_t(b[hdr::header_size.offset + i]) << (8 * i);
  if (header_size < ingot::format::kHeaderSize || header_size > b.size() || header_size % 8 != 0) return false;
  const uint64_t index_offset = load_u64(b, hdr::index_offset.offset);
  const uint64_t index_size = load_u64(b, hdr::index_size.offset);
  if (index_offset <= b.size() && index_size <= b.size() - index_offset) {
    store_u64(b, hdr::index_checksum.offset,
              ingot::format::checksum(std::span<const uint8_t>(b).subspan(index_offset, index_size)));
  }
  store_u64(b, header_size - 8, ingot::format::checksum(std::span<const uint8_t>(b.data(), header_size - 8)));
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A heap copy of exactly `size` bytes: ASan reports any read past its end. (libFuzzer's own
  // buffer is also exact, but the copy makes the bound explicit and lets us patch checksums.)
  std::vector<uint8_t> bytes(data, data + size);
  std::unique_ptr<Container> c = open_and_exercise(bytes);

  // The same input with header and index checksums repaired (a copy of the same size).
  std::vector<uint8_t> repaired = bytes;
  if (!repair_checksums(repaired)) return 0;
  std::vector<uint8_t>* buf = &bytes;  // the buffer `c` views
  if (repaired != bytes) {
    c.reset();
    c = open_and_exercise(repaired);
    buf = &repaired;
  }
  if (c == nullptr) return 0;

  // It opens: also repair every blob checksum so verify() gets to decompression and padding.
  struct Fix {
    size_t blob_at;  // position of the fb::Blob struct in the buffer
    uint64_t sum;
  };
  std::vector<Fix> fixes;
  const uint64_t data_offset = c->header().data_offset;
  for (const BlobRef& ref : c->blobs()) {
    const uint64_t sum = ingot::format::checksum(c->file_bytes().subspan(data_offset + ref.blob->offset(), ref.blob->size()));
    if (sum != ref.blob->checksum()) {
      fixes.push_back({size_t(reinterpret_cast<const uint8_t*>(ref.blob) - buf->data()), sum});
    }
  }
  c.reset();
  if (fixes.empty()) return 0;
  for (const Fix& f : fixes) {
    auto* blob = reinterpret_cast<ingot::fb::Blob*>(buf->data() + f.blob_at);
    blob->mutate_checksum(f.sum);
  }
  FUZZ_CHECK(repair_checksums(*buf));
  c = open_and_exercise(*buf);
  FUZZ_CHECK(c != nullptr);  // only blob checksums changed, and open() does not check them
  return 0;
}
