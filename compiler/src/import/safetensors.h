// Reading safetensors files (Hugging Face), through a read-only mapping.
//
// A file is: 8 bytes N (uint64, little-endian); N bytes of UTF-8 JSON, an object
//   {"__metadata__": {"key": "value", ...},                 optional, string -> string
//    "<tensor>": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
// (writers pad it with spaces to a multiple of 8); then the data region. Offsets count from the
// first byte after the header. Validated as the reference implementation does
// (huggingface/safetensors, safetensors/src/tensor.rs: read_metadata, Metadata::validate):
// N <= 100'000'000; sorted by offsets, the tensors lie back to back from 0, each
// end - begin = n_elements * dtype size (overflow-checked), and the last one ends where the
// file ends. Unlike the reference, a name given twice is an error (it would hide a tensor).
// Every failure is a Status naming the file and, where there is one, the tensor.
//
// A sharded checkpoint is `model.safetensors.index.json` ({"weight_map": {tensor: shard file}}),
// with the shards beside it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "import/source_model.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

// The reference implementation's limit on N.
constexpr uint64_t kSafetensorsMaxHeaderSize = 100'000'000;

struct SafetensorsTensor {
  std::string name;
  std::string dtype;  // as the file spells it: "F32", "BF16", "I32", ...
  std::vector<uint64_t> shape;
  std::span<const uint8_t> bytes;  // (n_elements * dtype size) bytes, viewing the file's mapping
  std::string file;                // path of the file that holds it
};

struct SafetensorsFile {
  std::string path;
  std::map<std::string, std::string> metadata;  // "__metadata__"
  std::vector<SafetensorsTensor> tensors;       // in data order
};

// Bits per element of a safetensors dtype name ("F4" 4, "F6_E2M3" 6, "BF16" 16, ...); 0 when the
// name is not a safetensors dtype.
uint32_t safetensors_dtype_bits(std::string_view dtype);

// ingot's dtype for a float dtype the importers take (F32, F16, BF16); nullopt otherwise.
std::optional<fb::DType> safetensors_import_dtype(std::string_view dtype);

// Parses a whole file held in `bytes`; `path` names it in messages. Tensors view `bytes`.
format::Status parse_safetensors(std::span<const uint8_t> bytes, const std::string& path, SafetensorsFile* out);

// All tensors of a checkpoint, with the mappings they view and the digests of the files read.
struct SafetensorsCheckpoint {
  std::map<std::string, SafetensorsTensor> tensors;   // by name
  std::vector<std::unique_ptr<Mapping>> mappings;     // one per file, each mapped once
  std::vector<std::unique_ptr<fb::DigestT>> sources;  // the index (if any), then the shards
};

// Opens `path`: a `.safetensors` file, or a `*.index.json` whose weight_map names the shards
// (plain file names in the index's directory). Every tensor of the map must be in the shard the
// map names; a tensor in two shards, or in a shard but not in the map, is an error.
format::Status open_safetensors(const std::string& path, SafetensorsCheckpoint* out);

}  // namespace ingot::compiler
