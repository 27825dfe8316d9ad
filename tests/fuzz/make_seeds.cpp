// Writes the seed corpus of fuzz_reader: complete sample containers (tests/support) with and
// without compression, mostly at the minimum alignment so the seeds stay small, one at the
// default 4096, plus an empty container, one with only config and tokenizer, and a one-tensor
// container.
//
//   make_seeds <output directory>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ingot/format/writer.h"
#include "sample_container.h"

namespace {

using ingot::format::Status;
using ingot::format::Writer;
using ingot::format::WriterOptions;

bool report(const Status& s, const std::string& path) {
  if (s.ok()) return true;
  std::fprintf(stderr, "make_seeds: %s: %s\n", path.c_str(), s.to_string().c_str());
  return false;
}

WriterOptions options(uint32_t alignment, bool compress) {
  WriterOptions o;
  o.alignment = alignment;
  o.compress = compress;
  return o;
}

// No tensors, no config, no tokenizer: the smallest valid container.
Status write_empty(const std::string& path) {
  std::unique_ptr<Writer> w;
  INGOT_RETURN_IF_ERROR(Writer::create(path, options(64, false), &w));
  return w->finish();
}

// Config, tokenizer, provenance and metadata of a sample, but no tensors.
Status write_header_only(const ingot::test::Sample& s, const std::string& path) {
  std::unique_ptr<Writer> w;
  INGOT_RETURN_IF_ERROR(Writer::create(path, options(64, false), &w));
  w->set_config(s.config());
  w->set_tokenizer(s.tokenizer());
  w->set_provenance(s.provenance());
  for (const auto& [k, v] : s.metadata) INGOT_RETURN_IF_ERROR(w->add_metadata(k, v));
  return w->finish();
}

// One small tensor of each storage kind: a dense f32 one and a compressible (zstd) one.
Status write_tiny(const std::string& path, bool compress) {
  std::unique_ptr<Writer> w;
  INGOT_RETURN_IF_ERROR(Writer::create(path, options(64, compress), &w));
  std::vector<uint8_t> dense(4 * 4);
  for (size_t i = 0; i < dense.size(); ++i) dense[i] = uint8_t(i * 37 + 1);
  std::vector<uint8_t> zeros(512 * 2, 0);
  ingot::format::TensorDesc a{"a", ingot::format::DType::F32, {4}, ingot::format::Layout::DenseRowMajor};
  ingot::format::TensorDesc z{"z", ingot::format::DType::F16, {512}, ingot::format::Layout::DenseRowMajor};
  INGOT_RETURN_IF_ERROR(w->add_tensor(a, ingot::format::BlobSource(dense)));
  INGOT_RETURN_IF_ERROR(w->add_tensor(z, ingot::format::BlobSource(zeros)));
  return w->finish();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output directory>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "make_seeds: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  bool ok = true;
  int written = 0;
  auto path = [&](const std::string& name) { return (dir / name).string(); };
  auto done = [&](const Status& s, const std::string& p) {
    if (report(s, p)) ++written;
    else ok = false;
  };

  for (uint32_t seed : {1u, 2u, 3u}) {
    const ingot::test::Sample s = ingot::test::make_sample(seed);
    for (bool compress : {false, true}) {
      const std::string p = path("sample-" + std::to_string(seed) + "-a64" + (compress ? "-zstd" : "") + ".ingot");
      done(ingot::test::write_sample(s, p, options(64, compress)), p);
    }
  }
  {
    const ingot::test::Sample s = ingot::test::make_sample(4);
    const std::string p = path("sample-4-a4096-zstd.ingot");
    done(ingot::test::write_sample(s, p, options(4096, true)), p);
  }
  {
    const std::string p = path("empty.ingot");
    done(write_empty(p), p);
  }
  {
    const std::string p = path("header-only.ingot");
    done(write_header_only(ingot::test::make_sample(5), p), p);
  }
  for (bool compress : {false, true}) {
    const std::string p = path(std::string("tiny") + (compress ? "-zstd" : "") + ".ingot");
    done(write_tiny(p, compress), p);
  }
  std::printf("make_seeds: wrote %d containers to %s\n", written, dir.c_str());
  return ok ? 0 : 1;
}
