// Writes the seed corpus of fuzz_gguf: small well-formed GGUF files (tests/support/gguf_writer.h)
// covering every key-value type the reader knows (scalars of each width, bool, string, arrays of
// numbers and of strings), F32/F16/BF16, every block-quantized type the importer dequantizes
// (Q4_0 ... Q6_K) and one it does not, two alignments, and a file without tensors.
//
//   make_gguf_seeds <output directory>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gguf_writer.h"

namespace {

using ingot::test::GgTensor;
using ingot::test::GgufBytes;
using ingot::test::Kv;

// A scalar of value type `type` and `width` bytes (little-endian), e.g. (0, 1) for u8.
Kv kv_scalar(const std::string& key, uint32_t type, uint64_t value, size_t width) {
  return {key, [=](GgufBytes& g) {
            g.u32(type);
            g.raw(&value, width);
          }};
}

bool write(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "make_gguf_seeds: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ingot::test;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_gguf_seeds <output directory>\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "make_gguf_seeds: %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  bool ok = true;
  // Two F32 tensors, a string, a float array, the alignment key.
  ok &= write(dir / "tiny.gguf",
              gguf_bytes({kv_str("general.architecture", "llama"), kv_f32s("a", {1, 2, 3}), kv_u32("general.alignment", 32)},
                         {{"t0", {4, 2}, 0, std::vector<uint8_t>(32, 1)}, {"t1", {3}, 0, std::vector<uint8_t>(12, 2)}}));
  // A LLaMA-like header: the keys the importer reads, a 4-token vocabulary, F16 and BF16 tensors
  // and one Q4_0 tensor (type 2: parsed, its bytes not taken), alignment 64.
  ok &= write(dir / "llama-like.gguf",
              gguf_bytes({kv_str("general.architecture", "llama"), kv_str("general.name", "seed"),
                          kv_u32("llama.context_length", 16), kv_u32("llama.embedding_length", 8),
                          kv_u32("llama.block_count", 1), kv_u32("llama.feed_forward_length", 16),
                          kv_u32("llama.attention.head_count", 2), kv_u32("llama.attention.head_count_kv", 1),
                          kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f), kv_f32("llama.rope.freq_base", 10000),
                          kv_str("tokenizer.ggml.model", "llama"), kv_strs("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a"}),
                          kv_f32s("tokenizer.ggml.scores", {0, 0, 0, -1}), kv_i32s("tokenizer.ggml.token_type", {2, 3, 3, 1}),
                          kv_u32("tokenizer.ggml.bos_token_id", 1), kv_u32("tokenizer.ggml.eos_token_id", 2),
                          kv_bool("tokenizer.ggml.add_bos_token", true), kv_u32("general.alignment", 64)},
                         {{"token_embd.weight", {8, 4}, 1, std::vector<uint8_t>(64, 0x3c)},
                          {"output_norm.weight", {8}, 30, std::vector<uint8_t>(16, 0x3f)},
                          {"blk.0.attn_q.weight", {32, 8}, 2, std::vector<uint8_t>(144, 0x11)}},
                         64));
  // One tensor of every block type the importer dequantizes (two rows of two blocks each), bytes
  // a fixed pattern whose f16 scale fields stay finite (bit 14 clear), plus an IQ2_XXS tensor
  // (type 16: parsed, never sized).
  {
    std::vector<GgTensor> blocks;
    const std::pair<uint32_t, uint32_t> types[] = {{2, 32}, {3, 32}, {6, 32}, {7, 32}, {8, 32},
                                                   {10, 256}, {11, 256}, {12, 256}, {13, 256}, {14, 256}};
    const uint32_t sizes[] = {18, 20, 22, 24, 34, 84, 110, 144, 176, 210};
    for (size_t i = 0; i < std::size(types); ++i) {
      std::vector<uint8_t> data(size_t(4) * sizes[i]);
      for (size_t k = 0; k < data.size(); ++k) data[k] = uint8_t((k * 37 + i * 11) & 0x3b);
      blocks.push_back({"q" + std::to_string(types[i].first), {2 * uint64_t(types[i].second), 2}, types[i].first, data});
    }
    blocks.push_back({"iq2_xxs", {256}, 16, std::vector<uint8_t>(66, 0x11)});
    ok &= write(dir / "block-types.gguf", gguf_bytes({kv_str("general.architecture", "llama")}, blocks));
  }
  // Every scalar width and signedness, f64, and no tensors at all.
  ok &= write(dir / "scalars.gguf",
              gguf_bytes({kv_scalar("u8", 0, 200, 1), kv_scalar("i8", 1, 0x80, 1), kv_scalar("u16", 2, 65535, 2),
                          kv_scalar("i16", 3, 0x8000, 2), kv_scalar("i32", 5, 0xffffffff, 4),
                          kv_scalar("u64", 10, ~uint64_t{0}, 8), kv_scalar("i64", 11, uint64_t{1} << 63, 8),
                          kv_scalar("f64", 12, 0x3ff0000000000000, 8), kv_bool("flag", false), kv_str("empty", "")},
                         {}));
  return ok ? 0 : 1;
}
