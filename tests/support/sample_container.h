// A small but complete container for format tests: config, tokenizer, provenance, metadata and
// tensors of every kind (dense f32/bf16, 4- and 3-bit GPTQ with scales, zeros and perm, a
// compressible one), with the values kept so tests can compare what they read back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ingot/format/reader.h"
#include "ingot/format/writer.h"

namespace ingot::test {

struct SampleTensor {
  format::TensorDesc desc;
  std::vector<uint8_t> data;
  bool quantized = false;
  format::QuantDesc quant;  // its BlobSources point into the vectors below
  std::vector<uint8_t> scales, zeros, perm;
};

struct Sample {
  std::vector<SampleTensor> tensors;
  fb::ModelConfigT config() const;
  fb::TokenizerT tokenizer() const;
  fb::ProvenanceT provenance() const;
  std::map<std::string, std::string> metadata;
};

// Deterministic for a given seed.
Sample make_sample(uint32_t seed);

// Writes `s` to `path`; returns the writer's status.
format::Status write_sample(const Sample& s, const std::string& path, const format::WriterOptions& options);

std::vector<uint8_t> read_file(const std::string& path);
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> entries() const;  // file names, sorted

 private:
  std::filesystem::path path_;
};

}  // namespace ingot::test
