// Greedy generations of SmolLM2-135M-Instruct: `ingot run --temp 0` on our f32 import of the shared
// Q4_1 GGUF against llama.cpp's `llama-simple` (greedy) on the same weights, for four prompts: the
// first 150 generated characters (at least) must be the same text.
//
// llama.cpp runs an F32 GGUF that its own `llama-quantize --allow-requantize ... F32` makes from the
// shared file (ggml's dequantizers, which ours match bit for bit), not the Q4_1 file itself: on Q4_1
// weights llama.cpp's CPU matmul quantizes the activations to Q8_1 blocks first, which is different
// arithmetic, not a different order of the same (bench/results/smollm2-llamacpp-greedy-2026-12-02.log
// measures where that run departs from ours).
//
// llama.cpp is never built here: bench/peer/llamacpp.sh --cached only finds a finished build
// (skip otherwise). About 4 x 64 tokens through a 135M model on the CPU: labelled slow.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "smollm2_support.h"

namespace ingot::test {
namespace {

constexpr const char* kPrompts[] = {
    "Once upon a time, there was a little girl named Lily who",
    "The history of the Roman Empire began",
    "def fibonacci(n):",
    "Photosynthesis is the process by which",
};
constexpr int kTokens = 64;
constexpr size_t kMinSame = 150;

std::string shell_quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Peer {
  TempDir dir;
  std::string bin;   // llama.cpp's bin folder; "" when skipped
  std::string gguf;  // the F32 GGUF
  std::string skip;
};

const Peer& peer() {
  static const std::unique_ptr<Peer> p = [] {
    auto r = std::make_unique<Peer>();
    const CommandResult found =
        run_command("bash " + shell_quoted(std::string(INGOT_SOURCE_DIR) + "/bench/peer/llamacpp.sh") + " --cached 2>&1");
    if (found.exit_code != 0) {
      r->skip = "no cached llama.cpp build (bench/peer/llamacpp.sh --cached: " + found.out + ")";
      return r;
    }
    std::string bin = found.out;
    while (!bin.empty() && (bin.back() == '\n' || bin.back() == '\r')) bin.pop_back();
    bin = bin.substr(bin.rfind('\n') + 1);
    r->gguf = r->dir.file("smol-f32.gguf");
    const CommandResult q = run_command(shell_quoted(bin + "/llama-quantize") + " --allow-requantize " +
                                        shell_quoted(shared_path(kSmolGguf)) + " " + shell_quoted(r->gguf) + " F32 2>&1");
    if (q.exit_code != 0) {
      ADD_FAILURE() << "llama-quantize to F32 failed: " << q.out;
      r->skip = "llama-quantize failed";
      return r;
    }
    r->bin = bin;
    return r;
  }();
  return *p;
}

// What follows the prompt in `out` (both tools echo the prompt first).
std::string generated(const std::string& out, const std::string& prompt) {
  EXPECT_EQ(out.substr(0, prompt.size()), prompt) << out;
  return out.substr(std::min(out.size(), prompt.size()));
}

TEST(SmolLM2LlamaCpp, GreedyGenerationsAreTheSameText) {
  REQUIRE_SMOL_F32();
  if (!peer().skip.empty()) GTEST_SKIP() << peer().skip;
  for (const std::string prompt : kPrompts) {
    SCOPED_TRACE(prompt);
    const CommandResult theirs = run_command(shell_quoted(peer().bin + "/llama-simple") + " -m " + shell_quoted(peer().gguf) +
                                             " -n " + std::to_string(kTokens) + " " + shell_quoted(prompt) + " 2>/dev/null");
    ASSERT_EQ(theirs.exit_code, 0) << theirs.out;
    const CommandResult ours = run_command(std::string(INGOT_BIN) + " run " + smol_f32().model + " --temp 0 -n " +
                                           std::to_string(kTokens) + " -p " + shell_quoted(prompt) + " 2>/dev/null");
    ASSERT_EQ(ours.exit_code, 0) << ours.out;
    const std::string a = generated(theirs.out, prompt), b = generated(ours.out, prompt);
    size_t same = 0;
    while (same < a.size() && same < b.size() && a[same] == b[same]) ++same;
    std::printf("[ measured ] %zu identical characters (llama.cpp %zu, ingot %zu) after \"%s\"\n", same, a.size(),
                b.size(), prompt.c_str());
    EXPECT_GE(same, kMinSame) << "llama.cpp: " << a << "\ningot:     " << b;
  }
}

}  // namespace
}  // namespace ingot::test
