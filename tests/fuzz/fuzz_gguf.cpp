// libFuzzer target over the GGUF reader (compiler/src/import/gguf_file.cpp): every input is parsed
// from memory; a failure must carry a message, and a file that parses has every float tensor's
// bytes inside the input (touched here so AddressSanitizer sees a read outside it).
//
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DINGOT_FUZZ=ON -DINGOT_CUDA=OFF
//   cmake --build build-fuzz --target fuzz_gguf && build-fuzz/tests/fuzz/fuzz_gguf -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <span>

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
  for (const ingot::compiler::GgufTensor& t : f.tensors) {
    if (!t.bytes.empty() && (t.bytes.data() < data || t.bytes.data() + t.bytes.size() > data + size)) __builtin_trap();
    for (uint8_t b : t.bytes) sum += b;
  }
  for (const auto& [key, v] : f.kv) sum += unsigned(key.size() + v.s.size() + v.strings.size() + v.numbers.size());
  return sum == 0xdeadbeef ? 1 : 0;
}
