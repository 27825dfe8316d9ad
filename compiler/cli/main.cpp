// ingotc: the model compiler. `ingotc build SRC -o OUT.ingot` reads a checkpoint (llama2.c file,
// GGUF file, Hugging Face directory, GPTQ checkpoint directory), optionally quantizes it (RTN or
// GPTQ) and writes one container; `ingotc export` writes a container as a GPTQ checkpoint.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "depfile.h"
#include "emit.h"
#include "export/gptq_export.h"
#include "gptq/calibration.h"
#include "gptq/gptq_cuda.h"
#include "gptq/quantize_model.h"
#include "import/file.h"
#include "import/gguf.h"
#include "import/hf.h"
#include "import/llama2c.h"
#include "import/tokenizer_files.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace ingot;

struct BuildArgs {
  std::string src, out, tokenizer, method = "none", dtype = "f16", report, depfile;
  bool compress = false;
  uint32_t alignment = 4096;
  // Quantization (defaults: the common practice of GPTQ-for-LLaMa / AutoGPTQ).
  int bits = 4;
  int group_size = 128;
  bool act_order = true, static_groups = false, sym = true, true_sequential = true, quantize_lm_head = false;
  float damp = 0.01f;
  int block_size = 128;
  int lm_head_bits = 0;  // 0: the classifier as --quantize-lm-head says (the layers' bits, or unquantized)
  // Options past the paper's code (docs/gptq.md). grid unset: hessian for GPTQ (the default since
  // issue 19's study), minmax for RTN and under --gptq-preset paper.
  std::string preset, grid, damp_text, damp_choices;
  bool gptaq = false, foem = false;
  float gptaq_alpha = 0.25f, foem_beta = 0.2f;
  std::string device = "cpu";
  std::vector<std::string> calib;
  size_t calib_samples = 128, calib_seqlen = 2048;
  std::string calib_draw = "stream";
  uint64_t seed = 0;
  int threads = 0;
};

std::string file_name(const std::string& path) {
  std::filesystem::path p = std::filesystem::path(path).filename();
  if (p.empty()) p = std::filesystem::path(path).parent_path().filename();  // "dir/"
  return p.string();
}

format::Status import_source(const BuildArgs& a, compiler::SourceModel* model) {
  std::error_code ec;
  if (std::filesystem::is_directory(a.src, ec)) {
    // A Hugging Face directory; --tokenizer replaces the directory's own tokenizer.
    compiler::HfImportOptions hf;
    hf.tokenizer_path = a.tokenizer;
    return compiler::import_hf_directory(a.src, model, hf);
  }
  if (!std::filesystem::exists(a.src, ec)) return format::fail(format::StatusCode::io_error, "'", a.src, "' does not exist");
  if (compiler::looks_like_gguf(a.src)) {
    INGOT_RETURN_IF_ERROR(compiler::import_gguf(a.src, model));
    if (!a.tokenizer.empty()) INGOT_RETURN_IF_ERROR(compiler::import_tokenizer_file(a.tokenizer, model));
    return format::Status::success();
  }
  if (!compiler::looks_like_llama2c(a.src)) {
    return format::fail(format::StatusCode::invalid_argument, "'", a.src,
                        "' is not a checkpoint ingotc recognises (a llama2.c .bin, a GGUF file or a Hugging Face "
                        "directory expected)");
  }
  INGOT_RETURN_IF_ERROR(compiler::import_llama2c(a.src, model));
  if (!a.tokenizer.empty()) INGOT_RETURN_IF_ERROR(compiler::import_tokenizer_file(a.tokenizer, model));
  return format::Status::success();
}

// Tokenizes the calibration files with the model's own tokenizer and draws the windows.
format::Status calibration(const BuildArgs& a, compiler::SourceModel& model, std::vector<std::vector<int32_t>>* samples) {
  if (a.calib.empty()) {
    return format::fail(format::StatusCode::invalid_argument,
                        "--method gptq needs calibration text: --calib FILE (plain text or JSON Lines with \"text\")");
  }
  if (model.tokenizer.kind == fb::TokenizerKind::None) {
    return format::fail(format::StatusCode::invalid_argument, "calibration needs the model's tokenizer: give --tokenizer");
  }
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(fb::Tokenizer::Pack(fbb, &model.tokenizer));
  std::unique_ptr<runtime::Tokenizer> tok;
  INGOT_RETURN_IF_ERROR(runtime::Tokenizer::create(*flatbuffers::GetRoot<fb::Tokenizer>(fbb.GetBufferPointer()), &tok));
  const std::optional<compiler::CalibDraw> draw = compiler::calib_draw_from_name(a.calib_draw);
  if (!draw) {
    return format::fail(format::StatusCode::invalid_argument, "--calib-draw ", a.calib_draw,
                        " is not one of stream, documents");
  }
  // The stream draw puts BOS first whenever the model has a BOS id (its rule before --calib-draw,
  // kept for its bytes); the documents draw only when the tokenizer adds one, as the reference's
  // tokenizer call does (SmolLM2 has a BOS id but adds none).
  const int32_t bos =
      *draw == compiler::CalibDraw::documents && !model.tokenizer.add_bos ? -1 : model.config.bos_id;
  compiler::CalibrationStats stats;
  INGOT_RETURN_IF_ERROR(compiler::load_calibration(a.calib, *tok, bos, a.calib_samples,
                                                   a.calib_seqlen, a.seed, *draw, samples, &model.calibration,
                                                   &stats));
  if (*draw == compiler::CalibDraw::documents) {
    std::fprintf(stderr,
                 "ingotc: note: calibration: %zu windows of %zu tokens from the %zu of %zu documents longer than "
                 "%zu tokens (the longest has %zu)\n",
                 a.calib_samples, a.calib_seqlen, stats.n_longer, stats.n_documents, a.calib_seqlen, stats.longest);
  }
  return format::Status::success();
}

format::Status write_report(const std::string& path, const std::vector<compiler::TensorDone>& done) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const compiler::TensorDone& t : done) {
    tensors.push_back({{"layer", t.layer}, {"tensor", t.tensor}, {"shape", {t.out, t.in}}, {"loss", t.loss},
                       {"damp", t.damp}, {"damp_raises", t.damp_raises}, {"seconds", t.seconds}});
  }
  std::ofstream f(path);
  f << nlohmann::json{{"tensors", tensors}}.dump(2) << "\n";
  if (!f) return format::fail(format::StatusCode::io_error, "cannot write the report '", path, "'");
  return format::Status::success();
}

// Parses a finite number >= 0 (the whole text); false otherwise.
bool parse_damp(const std::string& text, float* out) {
  try {
    size_t used = 0;
    const float v = std::stof(text, &used);
    if (used != text.size() || !std::isfinite(v) || v < 0.0f) return false;
    *out = v;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// The GPTQ options past the paper (--gptq-grid, --damp auto, --damp-choices, --gptaq) into `q`,
// after checking them and --gptq-preset.
format::Status gptq_extras(BuildArgs& a, compiler::QuantizeOptions* q) {
  using format::fail;
  using format::StatusCode;
  const bool gptq = a.method == "gptq";
  const bool grid_given = !a.grid.empty();
  if (!grid_given) a.grid = gptq && a.preset.empty() ? "hessian" : "minmax";
  if (a.grid == "mse") {
    q->config.grid = compiler::GridSearch::mse;
  } else if (a.grid == "hessian") {
    if (!gptq) return fail(StatusCode::invalid_argument, "--gptq-grid hessian needs --method gptq (RTN has no Hessian)");
    q->config.grid = compiler::GridSearch::hessian;
  } else if (a.grid != "minmax") {
    return fail(StatusCode::invalid_argument, "--gptq-grid ", a.grid, " is not one of minmax, mse, hessian");
  }
  if (!a.damp_text.empty()) {
    if (a.damp_text == "auto") {
      q->config.damp_auto = true;
    } else if (!parse_damp(a.damp_text, &a.damp)) {
      return fail(StatusCode::invalid_argument, "--damp ", a.damp_text, " is not 'auto' or a number >= 0");
    }
    q->config.damp = a.damp;
  }
  if (!a.damp_choices.empty()) {
    std::string rest = a.damp_choices;
    while (true) {
      const size_t comma = rest.find(',');
      const std::string item = rest.substr(0, comma);
      float v = 0.0f;
      if (!parse_damp(item, &v)) {
        return fail(StatusCode::invalid_argument, "--damp-choices ", a.damp_choices, ": '", item,
                    "' is not a number >= 0 (a comma-separated list, e.g. 0.001,0.01,0.1)");
      }
      q->config.damp_choices.push_back(v);
      if (comma == std::string::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  if (!std::isfinite(a.gptaq_alpha)) return fail(StatusCode::invalid_argument, "--gptaq-alpha must be finite");
  q->gptaq = a.gptaq;
  q->config.gptaq_alpha = a.gptaq_alpha;
  if (a.foem) {
    if (!(a.foem_beta > 0.0f && a.foem_beta <= 1.0f)) {
      return fail(StatusCode::invalid_argument, "--foem-beta ", a.foem_beta, " is not in (0, 1]");
    }
    q->config.foem_beta = a.foem_beta;
  }
  const bool gptq_only = q->config.damp_auto || !q->config.damp_choices.empty() || a.gptaq || a.foem;
  const bool extras = gptq_only || grid_given;
  if (gptq_only && !gptq) {
    return fail(StatusCode::invalid_argument, "--damp auto, --damp-choices, --gptaq and --foem need --method gptq");
  }
  if (a.gptaq && !a.true_sequential) return fail(StatusCode::invalid_argument, "--gptaq needs --true-sequential");
  if (a.device == "auto") a.device = gptq && compiler::gptq_cuda_available() ? "cuda" : "cpu";
  if (a.device == "cuda") {
    if (!gptq) return fail(StatusCode::invalid_argument, "--device cuda needs --method gptq (RTN runs on the CPU)");
    if (!compiler::gptq_cuda_available()) {
      return fail(StatusCode::invalid_argument, "--device cuda: no CUDA device here, or this ingotc was built without "
                  "CUDA; use --device cpu");
    }
    q->config.device = compiler::GptqDevice::cuda;
  }
  if (!a.preset.empty()) {
    if (a.preset != "paper") return fail(StatusCode::invalid_argument, "--gptq-preset ", a.preset, " is not 'paper'");
    if (extras) {
      return fail(StatusCode::invalid_argument, "--gptq-preset paper is the paper's algorithm alone: drop --gptq-grid, ",
                  "--damp auto, --damp-choices, --gptaq and --foem");
    }
  }
  return format::Status::success();
}

int build(BuildArgs& a) {
  const auto die = [](const format::Status& s) {
    std::fprintf(stderr, "ingotc: %s\n", s.message().c_str());
    return 1;
  };
  if (a.method != "none" && a.method != "rtn" && a.method != "gptq") {
    return die(format::fail(format::StatusCode::invalid_argument, "--method ", a.method, " is not one of gptq, rtn, none"));
  }
  if (a.method != "none" && a.bits != 2 && a.bits != 3 && a.bits != 4 && a.bits != 8) {
    return die(format::fail(format::StatusCode::invalid_argument, "--bits ", a.bits, " is not one of 2, 3, 4, 8"));
  }
  if (a.lm_head_bits != 0) {
    if (a.lm_head_bits != 2 && a.lm_head_bits != 3 && a.lm_head_bits != 4 && a.lm_head_bits != 8) {
      return die(format::fail(format::StatusCode::invalid_argument, "--lm-head-bits ", a.lm_head_bits,
                              " is not one of 2, 3, 4, 8"));
    }
    if (a.method == "none") {
      return die(format::fail(format::StatusCode::invalid_argument,
                              "--lm-head-bits needs --method rtn or gptq (--method none quantizes nothing)"));
    }
    a.quantize_lm_head = true;
  }
  if (a.group_size == 0 || a.group_size < -1) {
    return die(format::fail(format::StatusCode::invalid_argument, "--group-size ", a.group_size,
                            " must be -1 (per output channel) or positive"));
  }
  const std::optional<fb::DType> dt = format::dtype_from_name(a.dtype.c_str());
  if (!dt || (*dt != fb::DType::F32 && *dt != fb::DType::F16 && *dt != fb::DType::BF16)) {
    return die(format::fail(format::StatusCode::invalid_argument, "--dtype ", a.dtype, " is not one of f32, f16, bf16"));
  }
  compiler::QuantizeOptions q;
  if (a.method != "none") {
    if (format::Status s = gptq_extras(a, &q); !s.ok()) return die(s);
  } else if (!a.preset.empty() || !a.grid.empty() || !a.damp_text.empty() || !a.damp_choices.empty() || a.gptaq ||
             a.foem) {
    return die(format::fail(format::StatusCode::invalid_argument, "GPTQ options need --method gptq"));
  }
  compiler::SourceModel model;
  if (format::Status s = import_source(a, &model); !s.ok()) return die(s);
  for (const std::string& note : model.notes) std::fprintf(stderr, "ingotc: note: %s\n", note.c_str());
  if (const auto& rs = model.config.rope_scaling;
      rs && (rs->type == fb::RopeScalingType::Dynamic || rs->type == fb::RopeScalingType::Yarn)) {
    std::fprintf(stderr, "ingotc: warning: rope scaling '%s' is recorded, but ingot's runtime does not run it yet\n",
                 format::rope_scaling_name(rs->type));
  }

  const bool prequantized = std::any_of(model.tensors.begin(), model.tensors.end(),
                                       [](const compiler::SourceTensor& t) { return t.quant != nullptr; });
  if (prequantized && a.method != "none") {
    return die(format::fail(format::StatusCode::invalid_argument, "'", a.src, "' is already quantized (GPTQ ",
                            "checkpoint): its weights are copied as they are; drop --method ", a.method));
  }
  if (model.quantized_source && a.method != "none") {
    std::fprintf(stderr,
                 "ingotc: warning: '%s' was already quantized (its blocks were dequantized exactly at import); "
                 "quantizing it again with --method %s compounds the error of both quantizations\n",
                 a.src.c_str(), a.method.c_str());
  }
  if (a.method != "none") {
    q.config.bits = a.bits;
    q.config.group_size = a.group_size;
    q.config.sym = a.sym;
    q.config.act_order = a.act_order;
    q.config.static_groups = a.static_groups;
    q.config.damp = a.damp;
    q.config.block_size = a.block_size;
    q.method = a.method == "gptq" ? fb::QuantMethod::GPTQ : fb::QuantMethod::RTN;
    q.true_sequential = a.true_sequential;
    q.quantize_lm_head = a.quantize_lm_head;
    q.lm_head_bits = a.lm_head_bits;
    q.threads = a.threads;
    // A bar with ETA on a terminal, plain lines otherwise; a table at the end.
    const bool tty = isatty(STDERR_FILENO) != 0;
    std::vector<compiler::TensorDone> done;
    const auto start = std::chrono::steady_clock::now();
    q.progress = [&](const compiler::TensorDone& t) {
      done.push_back(t);
      if (!tty) {
        std::fprintf(stderr, "ingotc: %s\n", t.line().c_str());
        return;
      }
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double eta = elapsed / double(t.index) * double(t.total - t.index);
      const int width = 30, filled = int(width * t.index / std::max<size_t>(t.total, 1));
      std::fprintf(stderr, "\r\033[Kingotc: [%s%s] %zu/%zu  layer %zu/%zu %s  %.0f s, ETA %.0f s",
                   std::string(size_t(filled), '#').c_str(), std::string(size_t(width - filled), '.').c_str(),
                   t.index, t.total, t.layer + 1, t.n_layers, t.tensor.c_str(), elapsed, eta);
      std::fflush(stderr);
    };
    std::vector<std::vector<int32_t>> samples;
    if (q.method == fb::QuantMethod::GPTQ) {
      if (format::Status s = calibration(a, model, &samples); !s.ok()) return die(s);
    }
    if (format::Status s = compiler::quantize_model(model, samples, q); !s.ok()) return die(s);
    if (tty) std::fprintf(stderr, "\n");
    std::fprintf(stderr, "%-6s %-38s %14s %12s %8s %8s\n", "layer", "tensor", "shape", "loss", "damp", "seconds");
    for (const compiler::TensorDone& t : done) {
      const std::string shape = "(" + std::to_string(t.out) + ", " + std::to_string(t.in) + ")";
      std::fprintf(stderr, "%-6zu %-38s %14s %12.5g %8.4g %8.2f%s\n", t.layer, t.tensor.c_str(), shape.c_str(), t.loss,
                   t.damp, t.seconds, t.damp_raises > 0 ? "  (damp raised)" : "");
    }
    if (!a.report.empty()) {
      if (format::Status s = write_report(a.report, done); !s.ok()) return die(s);
    }
  }

  compiler::EmitOptions opt;
  opt.dtype = *dt;
  opt.writer.compress = a.compress;
  opt.writer.alignment = a.alignment;
  opt.progress = true;
  // Provenance holds file names only, so the output does not depend on where things live.
  opt.options = {{"source", file_name(a.src)}, {"tokenizer", file_name(a.tokenizer)}, {"method", a.method},
                 {"dtype", a.dtype}, {"compress", a.compress ? "true" : "false"},
                 {"alignment", std::to_string(a.alignment)}};
  for (const std::string& note : model.notes) opt.options.emplace_back("import_note", note);
  if (a.method != "none") {
    std::string calib;
    for (const std::string& c : a.calib) calib += (calib.empty() ? "" : ",") + file_name(c);
    opt.options.insert(opt.options.end(),
                       {{"bits", std::to_string(a.bits)}, {"group_size", std::to_string(a.group_size)},
                        {"sym", a.sym ? "true" : "false"}, {"act_order", a.act_order ? "true" : "false"},
                        {"static_groups", a.static_groups ? "true" : "false"}, {"damp", std::to_string(a.damp)},
                        {"block_size", std::to_string(a.block_size)},
                        {"true_sequential", a.true_sequential ? "true" : "false"},
                        {"quantize_lm_head", a.quantize_lm_head ? "true" : "false"}, {"calib", calib},
                        {"calib_samples", std::to_string(a.calib_samples)},
                        {"calib_seqlen", std::to_string(a.calib_seqlen)}, {"seed", std::to_string(a.seed)}});
    // Recorded only when it is not the default, so that stream builds keep the bytes they had
    // before --calib-draw existed.
    if (a.calib_draw != "stream") opt.options.emplace_back("calib_draw", a.calib_draw);
    if (a.lm_head_bits != 0) opt.options.emplace_back("lm_head_bits", std::to_string(a.lm_head_bits));
    // The options past the paper are recorded only when used, so that the paper's algorithm
    // (--gptq-preset paper, or no option) writes the same bytes as before they existed.
    if (a.grid != "minmax") opt.options.emplace_back("gptq_grid", a.grid);
    if (a.damp_text == "auto") opt.options.emplace_back("damp_auto", "true");
    if (!a.damp_choices.empty()) opt.options.emplace_back("damp_choices", a.damp_choices);
    if (a.gptaq) opt.options.emplace_back("gptaq_alpha", std::to_string(a.gptaq_alpha));
    if (a.foem) opt.options.emplace_back("foem_beta", std::to_string(a.foem_beta));
    if (a.device == "cuda") opt.options.emplace_back("gptq_device", "cuda");
  }
  if (format::Status s = compiler::emit(model, a.out, opt); !s.ok()) return die(s);
  if (!a.depfile.empty()) {
    // Every file the build read (checkpoint, tokenizer, configs, shards, calibration text).
    if (format::Status s = compiler::write_depfile(a.depfile, a.out, compiler::files_read()); !s.ok()) return die(s);
  }
  std::fprintf(stderr, "ingotc: wrote %s\n", a.out.c_str());
  return 0;
}

int export_model(const std::string& model, const std::string& format, const std::string& out,
                 const std::string& checkpoint_format) {
  if (format != "gptq") {
    std::fprintf(stderr, "ingotc: --format %s is not supported (gptq is)\n", format.c_str());
    return 1;
  }
  compiler::GptqExportOptions o;
  o.checkpoint_format = checkpoint_format;
  std::vector<std::string> notes;
  const format::Status s = compiler::export_gptq(model, out, o, &notes);
  for (const std::string& note : notes) std::fprintf(stderr, "ingotc: note: %s\n", note.c_str());
  if (!s.ok()) {
    std::fprintf(stderr, "ingotc: %s\n", s.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "ingotc: wrote %s\n", out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ingotc: compile LLaMA checkpoints into .ingot containers"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ingotc 0.1.0 (container format 1.0)");

  auto* b = app.add_subcommand("build", "Compile a checkpoint into one .ingot container");
  BuildArgs a;
  b->add_option("SRC", a.src,
                "llama2.c checkpoint (.bin), GGUF file (F32/F16/BF16, or Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q2_K..Q6_K blocks dequantized exactly to f32), or a Hugging Face directory (config.json, "
                "model.safetensors or model.safetensors.index.json, tokenizer.model or tokenizer.json; a GPTQ "
                "checkpoint's quantized weights are copied as they are)")
      ->required();
  b->add_option("-o,--output", a.out, "the .ingot file to write")->required();
  b->add_option("--tokenizer", a.tokenizer,
                "tokenizer file: SentencePiece tokenizer.model, llama2.c tokenizer.bin, or HF tokenizer.json "
                "(for a directory: instead of its own)");
  b->add_option("--method", a.method, "quantization of the layers' linear weights: gptq, rtn or none")
      ->capture_default_str();
  b->add_option("--dtype", a.dtype, "storage type of unquantized matrices (embeddings, classifier): f32, f16, bf16")
      ->capture_default_str();
  b->add_option("--bits", a.bits, "bits per weight: 2, 3, 4 or 8")->capture_default_str();
  b->add_option("--group-size", a.group_size, "input columns per scale/zero; -1: one group per output channel")
      ->capture_default_str();
  b->add_flag("--act-order,!--no-act-order", a.act_order, "GPTQ: quantize columns by decreasing Hessian diagonal (default on)");
  b->add_flag("--static-groups", a.static_groups, "GPTQ: all group parameters up front (with act-order)");
  b->add_flag("--sym,!--asym", a.sym, "symmetric (default) or asymmetric zero points");
  b->add_option("--damp", a.damp_text,
                "GPTQ: dampening, a fraction of the mean Hessian diagonal (default 0.01; raised x10 while H is not "
                "positive definite), or 'auto': from 0.01 raised by 0.0025 at a time (GPTQModel's damp_auto_increment)");
  b->add_option("--damp-choices", a.damp_choices,
                "GPTQ: comma-separated damps tried on every weight; the one with the least output-reconstruction "
                "loss is kept");
  b->add_option("--gptq-grid", a.grid,
                "each group's scale/zero: hessian (GPTQ's default: quant.py's shrink search weighted by diag(H)), "
                "minmax (the paper's; RTN's default), mse (the shrink search on |w-q|^2.4)");
  b->add_flag("--gptaq", a.gptaq,
              "GPTQ: GPTAQ's asymmetric calibration (arXiv 2504.02692), full-precision layer inputs beside the "
              "quantized model's (needs --true-sequential)");
  b->add_option("--gptaq-alpha", a.gptaq_alpha, "GPTAQ: scale of its cross term (the authors' 0.25)")->capture_default_str();
  b->add_flag("--foem", a.foem,
              "GPTQ: FOEM's first-order term (arXiv 2507.11017): each column moves towards its full-precision "
              "value by --foem-beta before rounding, and its error feedback includes that step");
  b->add_option("--foem-beta", a.foem_beta, "FOEM: its beta (GPTQModel's 0.2)")->capture_default_str();
  b->add_option("--gptq-preset", a.preset,
                "paper: the paper's algorithm exactly (min/max grids, as ingotc wrote before --gptq-grid hessian "
                "became the default; refuses the options above)");
  b->add_option("--block-size", a.block_size, "GPTQ: lazy-batch width in columns")->capture_default_str();
  b->add_option("--device", a.device,
                "GPTQ: where each weight's factorization and column loop run: cpu, cuda (device 0: cuSOLVER, cuBLAS "
                "and our kernel, Hessians with cuBLAS; not yet run on a GPU, docs/gptq.md) or auto (cuda when a "
                "device is present); the calibration forward runs on the CPU either way")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  b->add_flag("--true-sequential,!--no-true-sequential", a.true_sequential,
              "GPTQ: q/k/v, then o, then gate/up, then down, each on inputs from the quantized parts (default on)");
  b->add_option("--calib", a.calib, "GPTQ calibration text (plain, or JSON Lines with a \"text\" field)");
  b->add_option("--calib-samples", a.calib_samples, "GPTQ: calibration windows")->capture_default_str();
  b->add_option("--calib-seqlen", a.calib_seqlen, "GPTQ: tokens per window")->capture_default_str();
  b->add_option("--calib-draw", a.calib_draw,
                "GPTQ: how windows are drawn. stream: each file's documents joined with \"\\n\\n\" into one token "
                "stream, a start uniform in it (windows may cross documents); documents: as the GPTQ reference's "
                "get_c4, a document uniform over all documents, drawn again until it has more than --calib-seqlen "
                "tokens, each tokenized alone, a window uniform inside it (a plain text file is one document)")
      ->check(CLI::IsMember({"stream", "documents"}))
      ->capture_default_str();
  b->add_option("--seed", a.seed, "seed for drawing calibration windows")->capture_default_str();
  b->add_flag("--quantize-lm-head", a.quantize_lm_head,
              "also quantize the classifier, in natural order (a tied model gets its own quantized copy; the "
              "embedding lookup keeps the dense table)");
  b->add_option("--lm-head-bits", a.lm_head_bits,
                "quantize the classifier at these bits (2, 3, 4, 8; implies --quantize-lm-head); 8 halves an f16 "
                "classifier's bytes per decoded token");
  b->add_option("--threads", a.threads, "threads; 0: all")->capture_default_str();
  b->add_option("--report", a.report, "write per-tensor losses and damps as JSON");
  b->add_option("--depfile", a.depfile,
                "after a successful build, write the files it read as a Makefile rule (for Ninja/Make DEPFILE)");
  b->add_flag("--compress", a.compress, "zstd-compress blobs where it saves at least 5%");
  b->add_option("--alignment", a.alignment, "blob alignment in bytes (power of two, 64 .. 1 MiB)")->capture_default_str();
  int rc = 0;
  b->callback([&] { rc = build(a); });

  auto* e = app.add_subcommand("export", "Write a quantized container in another tool's format");
  std::string export_src, export_format = "gptq", export_out, checkpoint_format = "auto";
  e->add_option("MODEL", export_src, "the .ingot file")->required();
  e->add_option("--format", export_format, "gptq: a Hugging Face GPTQ directory (AutoGPTQ / GPTQModel / transformers)")
      ->capture_default_str();
  e->add_option("-o,--output", export_out, "the directory to create (absent or empty)")->required();
  e->add_option("--checkpoint-format", checkpoint_format,
                "zero points: gptq (v1, zero - 1), gptq_v2 (real zeros), auto (v1 unless a zero is 0)")
      ->capture_default_str();
  e->callback([&] { rc = export_model(export_src, export_format, export_out, checkpoint_format); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}
