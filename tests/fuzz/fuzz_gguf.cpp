// libFuzzer target over the GGUF reader (compiler/src/import/gguf_file.cpp): every input is parsed
// from memory; a failure must carry a message, and a file that parses has every sized tensor's
// bytes inside the input (touched here so AddressSanitizer sees a read outside it); block-quantized
// tensors are dequantized as the importer does.
//
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DINGOT_FUZZ=ON -DINGOT_CUDA=OFF
//   cmake --build build-fuzz --target fuzz_gguf && build-fuzz/tests/fuzz/fuzz_gguf -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <span>

#include <algorithm>
#include <vector>

#include "import/gguf_dequant.h"
#include "import/gguf_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  ingot::compiler::GgufFile f;
  const ingot::format::Status s = ingot::compiler::parse_gguf(bytes, "fuzz.gguf", &f);
  if (!s.ok()) {
    if (s.message().empty()) __builtin_trap();
    return 0;
  }
  unsigned sum = 0;
  std::vector<float> out;
  for (const ingot::compiler::GgufTensor& t : f.tensors) {
    if (!t.bytes.empty() && (t.bytes.data() < data || t.bytes.data() + t.bytes.size() > data + size)) __builtin_trap();
    for (uint8_t b : t.bytes) sum += b;
    // Block-quantized tensors: the parser sized t.bytes as whole blocks; dequantize them (capped,
    // so one input cannot take long) the way the importer does.
    const ingot::compiler::GgmlBlockType* bt = ingot::compiler::ggml_block_type(t.type);
    if (bt == nullptr || !ingot::compiler::is_dequantizable_ggml_type(t.type)) continue;
    if (t.bytes.size() % bt->type_size != 0) __builtin_trap();
    const size_t n_blocks = std::min<size_t>(t.bytes.size() / bt->type_size, 4096);
    out.resize(n_blocks * bt->block_size);
    ingot::compiler::dequantize_ggml(t.type, t.bytes.first(n_blocks * bt->type_size), out);
    for (float v : out) sum += v != v ? 1u : 0u;
  }
  for (const auto& [key, v] : f.kv) sum += unsigned(key.size() + v.s.size() + v.strings.size() + v.numbers.size());
  return sum == 0xdeadbeef ? 1 : 0;
}
