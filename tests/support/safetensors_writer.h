// A safetensors writer and reader following the format description (huggingface/safetensors
// README: header length, JSON header, data), for the importer and interop tests.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sample_container.h"  // read_file

namespace ingot::test {

struct StTensor {
  std::string name, dtype;
  std::vector<uint64_t> shape;
  std::vector<uint8_t> data;
};

// 8-byte little-endian header length, the JSON header padded with spaces to a multiple of 8,
// then the tensors back to back in the order given; `metadata` (unless null) as "__metadata__".
inline std::vector<uint8_t> safetensors_bytes(const std::vector<StTensor>& tensors,
                                              const nlohmann::ordered_json& metadata = nullptr) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.is_null()) h["__metadata__"] = metadata;
  uint64_t at = 0;
  for (const StTensor& t : tensors) {
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {at, at + t.data.size()}}};
    at += t.data.size();
  }
  std::string header = h.dump();
  header.resize((header.size() + 7) / 8 * 8, ' ');
  std::vector<uint8_t> b;
  for (int i = 0; i < 8; ++i) b.push_back(uint8_t(uint64_t(header.size()) >> (8 * i)));
  b.insert(b.end(), header.begin(), header.end());
  for (const StTensor& t : tensors) b.insert(b.end(), t.data.begin(), t.data.end());
  return b;
}

inline std::vector<StTensor> read_safetensors(const std::string& path) {
  const std::vector<uint8_t> b = read_file(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[size_t(i)];
  const nlohmann::json h = nlohmann::json::parse(b.begin() + 8, b.begin() + 8 + long(n));
  std::vector<StTensor> out;
  for (const auto& [name, v] : h.items()) {
    if (name == "__metadata__") continue;
    const uint64_t begin = v["data_offsets"][0], end = v["data_offsets"][1];
    out.push_back({name, v["dtype"], v["shape"].get<std::vector<uint64_t>>(),
                   std::vector<uint8_t>(b.begin() + long(8 + n + begin), b.begin() + long(8 + n + end))});
  }
  return out;
}

}  // namespace ingot::test
