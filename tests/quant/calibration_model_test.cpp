// The calibration draws through files and a real tokenizer (stories260K's), and through ingotc:
// --calib-draw documents takes every window inside one JSON Lines document that alone has more
// than seqlen tokens; the default (stream) writes the bytes it wrote before the option existed.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gptq/calibration.h"
#include "import/llama2c.h"
#include "import/tokenizer_files.h"
#include "run_command.h"
#include "sample_container.h"
#include "shared_assets.h"
#include "tokenizer/tokenizer.h"

namespace ingot::test {
namespace {

const char* kCheckpoint = "models/stories260K/stories260K.bin";
const char* kTokenizer = "models/stories260K/tok512.model";
const char* kC4 = "data/c4/c4_sample.json";

struct Stories {
  compiler::SourceModel src;
  flatbuffers::FlatBufferBuilder fbb;
  std::unique_ptr<runtime::Tokenizer> tok;
  Stories() {
    format::Status s = compiler::import_llama2c(shared_path(kCheckpoint), &src);
    EXPECT_TRUE(s.ok()) << s.to_string();
    s = compiler::import_tokenizer_file(shared_path(kTokenizer), &src);
    EXPECT_TRUE(s.ok()) << s.to_string();
    fbb.Finish(fb::Tokenizer::Pack(fbb, &src.tokenizer));
    s = runtime::Tokenizer::create(*flatbuffers::GetRoot<fb::Tokenizer>(fbb.GetBufferPointer()), &tok);
    EXPECT_TRUE(s.ok()) << s.to_string();
  }
};

bool contains(const std::vector<int32_t>& hay, const std::vector<int32_t>& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

TEST(CalibrationFiles, DocumentsDrawStaysInsideLongDocuments) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  Stories st;
  TempDir dir;
  // Two files: short documents (never eligible) and long ones made of distinct sentences, so a
  // window that crossed documents could not be a piece of any one of them.
  std::vector<std::string> texts;
  const std::string a = dir.file("a.jsonl"), b = dir.file("b.txt");
  {
    std::ofstream f(a);
    for (int d = 0; d < 6; ++d) {
      std::string t = d % 2 == 0 ? "A short one." : "";
      if (d % 2 == 1)
        for (int i = 0; i < 30 + 10 * d; ++i) t += "Story " + std::to_string(d) + " line " + std::to_string(i) + ". ";
      texts.push_back(t);
      f << nlohmann::json{{"text", t}}.dump() << "\n";
    }
    std::ofstream g(b);
    std::string t;
    for (int i = 0; i < 40; ++i) t += "Plain file sentence " + std::to_string(i) + ". ";
    texts.push_back(t);
    g << t;
  }
  const size_t seqlen = 64;
  const int32_t bos = st.src.config.bos_id;
  ASSERT_GE(bos, 0);
  std::vector<std::vector<int32_t>> toks;  // each document alone, BOS first as the loader is asked
  for (const std::string& t : texts) {
    std::vector<int32_t> ids = {bos};
    const auto body = st.tok->encode(t);
    ids.insert(ids.end(), body.begin(), body.end());
    toks.push_back(ids);
  }
  size_t n_long = 0;
  for (const auto& t : toks) n_long += t.size() > seqlen ? 1 : 0;
  ASSERT_GE(n_long, 3u);
  ASSERT_LT(n_long, toks.size());

  std::vector<std::vector<int32_t>> samples, again;
  std::vector<std::unique_ptr<fb::DigestT>> digests;
  compiler::CalibrationStats stats;
  format::Status s = compiler::load_calibration({a, b}, *st.tok, bos, 200, seqlen, 5, compiler::CalibDraw::documents,
                                                &samples, &digests, &stats);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(digests.size(), 2u);
  EXPECT_EQ(stats.n_documents, 7u);
  EXPECT_EQ(stats.n_longer, n_long);
  size_t longest = 0;
  for (const auto& t : toks) longest = std::max(longest, t.size());
  EXPECT_EQ(stats.longest, longest);
  ASSERT_EQ(samples.size(), 200u);
  std::vector<size_t> used(toks.size(), 0);
  for (const auto& w : samples) {
    ASSERT_EQ(w.size(), seqlen);
    size_t hits = 0;
    for (size_t d = 0; d < toks.size(); ++d) {
      if (toks[d].size() > seqlen && contains(toks[d], w)) {
        ++used[d];
        ++hits;
      }
    }
    ASSERT_GE(hits, 1u) << "a window is not a piece of one long document: " << st.tok->decode(w);
  }
  for (size_t d = 0; d < toks.size(); ++d) {
    if (toks[d].size() > seqlen) {
      EXPECT_GT(used[d], 0u) << "long document " << d << " never drawn";
    }
  }
  s = compiler::load_calibration({a, b}, *st.tok, bos, 200, seqlen, 5, compiler::CalibDraw::documents, &again, &digests);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(samples, again);

  // The stream draw on the same files crosses documents: some window is a piece of no document.
  s = compiler::load_calibration({a}, *st.tok, bos, 200, seqlen, 5, compiler::CalibDraw::stream, &samples, &digests);
  ASSERT_TRUE(s.ok()) << s.to_string();
  size_t crossing = 0;
  for (const auto& w : samples) {
    bool inside = false;
    for (const auto& t : toks) inside = inside || contains(t, w);
    crossing += inside ? 0 : 1;
  }
  EXPECT_GT(crossing, 0u);

  // No document longer than seqlen: the error names the file of the longest and its length.
  s = compiler::load_calibration({a, b}, *st.tok, bos, 4, longest, 0, compiler::CalibDraw::documents, &samples,
                                 &digests);
  ASSERT_FALSE(s.ok());
  const std::string where = toks.back().size() == longest ? "b.txt" : "a.jsonl";
  EXPECT_NE(s.message().find(where), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("the longest has " + std::to_string(longest) + " tokens"), std::string::npos)
      << s.message();
}

std::string build_cmd(const std::string& seqlen = "128") {
  return std::string(INGOTC_BIN) + " build " + shared_path(kCheckpoint) + " --tokenizer " + shared_path(kTokenizer) +
         " --method gptq --bits 4 --group-size 32 --calib-samples 16 --calib-seqlen " + seqlen + " --calib " +
         shared_path(kC4) + " --threads 1";
}

TEST(CalibrationCli, StreamIsTheDefaultAndDocumentsIsRecorded) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  INGOT_REQUIRE_SHARED(kC4);
  TempDir dir;
  CommandResult r = run_command(build_cmd() + " -o " + dir.file("default.ingot") + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = run_command(build_cmd() + " --calib-draw stream -o " + dir.file("stream.ingot") + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(read_file(dir.file("default.ingot")), read_file(dir.file("stream.ingot")));
  r = run_command(build_cmd() + " --calib-draw documents -o " + dir.file("documents.ingot") + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("documents longer than 128 tokens"), std::string::npos) << r.out;
  EXPECT_NE(read_file(dir.file("default.ingot")), read_file(dir.file("documents.ingot")));
  const auto j = nlohmann::json::parse(
      run_command(std::string(INGOT_BIN) + " inspect --json " + dir.file("documents.ingot")).out);
  EXPECT_NE(j["provenance"].dump().find("\"documents\""), std::string::npos) << j["provenance"].dump();
  const auto d = nlohmann::json::parse(
      run_command(std::string(INGOT_BIN) + " inspect --json " + dir.file("default.ingot")).out);
  EXPECT_EQ(d["provenance"].dump().find("calib_draw"), std::string::npos);

  r = run_command(build_cmd("1000000") + " --calib-draw documents -o " + dir.file("x.ingot") +
                  " 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("c4_sample.json"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the longest has"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.ingot")));
  r = run_command(build_cmd() + " --calib-draw words -o " + dir.file("y.ingot") + " 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--calib-draw"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ingot::test
