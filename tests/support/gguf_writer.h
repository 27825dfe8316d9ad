// A GGUF writer following the published format (ggml docs/gguf.md: header, key-values, tensor
// infos, aligned tensor data), for tests and fuzz seeds. Version 3, little-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ingot::test {

class GgufBytes {
 public:
  std::vector<uint8_t> b;
  void raw(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
  }
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void f32(float v) { raw(&v, 4); }
  void str(const std::string& s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
};

// Value types of the format: 4 u32, 6 f32, 7 bool, 8 string, 9 array, 5 i32.
struct Kv {
  std::string key;
  std::function<void(GgufBytes&)> value;  // writes type + payload
};
inline Kv kv_u32(const std::string& k, uint32_t v) {
  return {k, [=](GgufBytes& g) { g.u32(4), g.u32(v); }};
}
inline Kv kv_f32(const std::string& k, float v) {
  return {k, [=](GgufBytes& g) { g.u32(6), g.f32(v); }};
}
inline Kv kv_bool(const std::string& k, bool v) {
  return {k, [=](GgufBytes& g) { g.u32(7), g.b.push_back(v ? 1 : 0); }};
}
inline Kv kv_str(const std::string& k, const std::string& v) {
  return {k, [=](GgufBytes& g) { g.u32(8), g.str(v); }};
}
inline Kv kv_strs(const std::string& k, const std::vector<std::string>& v) {
  return {k, [=](GgufBytes& g) {
            g.u32(9), g.u32(8), g.u64(v.size());
            for (const std::string& s : v) g.str(s);
          }};
}
inline Kv kv_f32s(const std::string& k, const std::vector<float>& v) {
  return {k, [=](GgufBytes& g) {
            g.u32(9), g.u32(6), g.u64(v.size());
            for (float f : v) g.f32(f);
          }};
}
inline Kv kv_i32s(const std::string& k, const std::vector<int32_t>& v) {
  return {k, [=](GgufBytes& g) {
            g.u32(9), g.u32(5), g.u64(v.size());
            for (int32_t i : v) g.u32(uint32_t(i));
          }};
}

struct GgTensor {
  std::string name;
  std::vector<uint64_t> ne;  // ne[0] fastest
  uint32_t type;             // 0 F32, 1 F16, 30 BF16
  std::vector<uint8_t> data;
};

inline std::vector<uint8_t> gguf_bytes(const std::vector<Kv>& kvs, const std::vector<GgTensor>& tensors, uint32_t alignment = 32) {
  GgufBytes g;
  g.raw("GGUF", 4);
  g.u32(3);
  g.u64(tensors.size());
  g.u64(kvs.size());
  for (const Kv& kv : kvs) {
    g.str(kv.key);
    kv.value(g);
  }
  uint64_t offset = 0;
  for (const GgTensor& t : tensors) {
    g.str(t.name);
    g.u32(uint32_t(t.ne.size()));
    for (uint64_t d : t.ne) g.u64(d);
    g.u32(t.type);
    g.u64(offset);
    offset += (t.data.size() + alignment - 1) / alignment * alignment;
  }
  g.b.resize((g.b.size() + alignment - 1) / alignment * alignment, 0);
  for (const GgTensor& t : tensors) {
    g.raw(t.data.data(), t.data.size());
    g.b.resize(g.b.size() + (alignment - t.data.size() % alignment) % alignment, 0);
  }
  return g.b;
}

}  // namespace ingot::test
