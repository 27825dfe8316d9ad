// ingotc: the model compiler. `ingotc build SRC -o OUT.ingot` reads a checkpoint (llama2.c file or
// Hugging Face directory) and writes one container.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>

#include "emit.h"
#include "import/hf.h"
#include "import/llama2c.h"
#include "import/tokenizer_files.h"

namespace {

using namespace ingot;

int build(const std::string& src, const std::string& out, const std::string& tokenizer, const std::string& method,
          const std::string& dtype, bool compress, uint32_t alignment) {
  const auto die = [](const format::Status& s) {
    std::fprintf(stderr, "ingotc: %s\n", s.message().c_str());
    return 1;
  };
  if (method != "none") {
    return die(format::fail(format::StatusCode::invalid_argument, "--method ", method,
                            " is not available yet; use --method none"));
  }
  compiler::SourceModel model;
  std::error_code ec;
  if (std::filesystem::is_directory(src, ec)) {
    // A Hugging Face directory; --tokenizer replaces the directory's own tokenizer.
    compiler::HfImportOptions hf;
    hf.tokenizer_path = tokenizer;
    if (format::Status s = compiler::import_hf_directory(src, &model, hf); !s.ok()) return die(s);
  } else {
    if (!std::filesystem::exists(src, ec)) {
      return die(format::fail(format::StatusCode::io_error, "'", src, "' does not exist"));
    }
    if (!compiler::looks_like_llama2c(src)) {
      return die(format::fail(format::StatusCode::invalid_argument, "'", src,
                              "' is not a checkpoint ingotc recognises (a llama2.c .bin or a Hugging Face "
                              "directory expected)"));
    }
    if (format::Status s = compiler::import_llama2c(src, &model); !s.ok()) return die(s);
    if (!tokenizer.empty()) {
      if (format::Status s = compiler::import_tokenizer_file(tokenizer, &model); !s.ok()) return die(s);
    }
  }
  if (const auto& rs = model.config.rope_scaling;
      rs && (rs->type == fb::RopeScalingType::Dynamic || rs->type == fb::RopeScalingType::Yarn)) {
    std::fprintf(stderr, "ingotc: warning: rope scaling '%s' is recorded, but ingot's runtime does not run it yet\n",
                 format::rope_scaling_name(rs->type));
  }
  compiler::EmitOptions opt;
  const std::optional<fb::DType> dt = format::dtype_from_name(dtype.c_str());
  if (!dt || (*dt != fb::DType::F32 && *dt != fb::DType::F16 && *dt != fb::DType::BF16)) {
    return die(format::fail(format::StatusCode::invalid_argument, "--dtype ", dtype, " is not one of f32, f16, bf16"));
  }
  opt.dtype = *dt;
  opt.writer.compress = compress;
  opt.writer.alignment = alignment;
  opt.progress = true;
  // Provenance holds file names only, so the output does not depend on where things live.
  std::filesystem::path src_name = std::filesystem::path(src).filename();
  if (src_name.empty()) src_name = std::filesystem::path(src).parent_path().filename();  // "dir/"
  opt.options = {{"source", src_name.string()},
                 {"tokenizer", std::filesystem::path(tokenizer).filename().string()},
                 {"method", method},
                 {"dtype", dtype},
                 {"compress", compress ? "true" : "false"},
                 {"alignment", std::to_string(alignment)}};
  if (format::Status s = compiler::emit(model, out, opt); !s.ok()) return die(s);
  std::fprintf(stderr, "ingotc: wrote %s\n", out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ingotc: compile LLaMA checkpoints into .ingot containers"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ingotc 0.1.0 (container format 1.0)");

  auto* b = app.add_subcommand("build", "Compile a checkpoint into one .ingot container");
  std::string src, out, tokenizer, method = "none", dtype = "f16";
  bool compress = false;
  uint32_t alignment = 4096;
  b->add_option("SRC", src,
                "llama2.c checkpoint (.bin), or a Hugging Face directory (config.json, model.safetensors or "
                "model.safetensors.index.json, tokenizer.model or tokenizer.json)")
      ->required();
  b->add_option("-o,--output", out, "the .ingot file to write")->required();
  b->add_option("--tokenizer", tokenizer,
                "tokenizer file: SentencePiece tokenizer.model, llama2.c tokenizer.bin, or HF tokenizer.json "
                "(for a directory: instead of its own)");
  b->add_option("--method", method, "quantization: none (GPTQ and RTN come later)")->capture_default_str();
  b->add_option("--dtype", dtype, "storage type of matrices: f32, f16 or bf16 (norms stay f32)")->capture_default_str();
  b->add_flag("--compress", compress, "zstd-compress blobs where it saves at least 5%");
  b->add_option("--alignment", alignment, "blob alignment in bytes (power of two, 64 .. 1 MiB)")->capture_default_str();
  int rc = 0;
  b->callback([&] { rc = build(src, out, tokenizer, method, dtype, compress, alignment); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}
