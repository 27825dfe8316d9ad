// ingotc --depfile: the Makefile rule lists exactly the files the build read (checked against the
// files given and, for a Hugging Face directory, against the directory's own listing).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "capi_fixture.h"
#include "depfile.h"

namespace ingot::test {
namespace {

namespace fs = std::filesystem;

std::string norm(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

// Parses "target: a \\\n b ..." back into target and inputs (escapes undone).
void parse(const std::string& text, std::string* target, std::set<std::string>* inputs) {
  std::vector<std::string> words;
  std::string w;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && i + 1 < text.size() && (text[i + 1] == ' ' || text[i + 1] == '#')) {
      w += text[++i];
    } else if (c == '\\' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
    } else if (c == '$' && i + 1 < text.size() && text[i + 1] == '$') {
      w += text[++i];
    } else if (c == ' ' || c == '\n') {
      if (!w.empty()) words.push_back(w);
      w.clear();
    } else {
      w += c;
    }
  }
  if (!w.empty()) words.push_back(w);
  ASSERT_FALSE(words.empty());
  ASSERT_EQ(words[0].back(), ':');
  *target = words[0].substr(0, words[0].size() - 1);
  inputs->clear();
  inputs->insert(words.begin() + 1, words.end());
}

TEST(Depfile, EscapesLikeMake) {
  EXPECT_EQ(compiler::depfile_escape("/a b/c#d/e$f"), "/a\\ b/c\\#d/e$$f");
  EXPECT_EQ(compiler::depfile_escape("/plain/path.bin"), "/plain/path.bin");
}

TEST(Depfile, ListsCheckpointTokenizerAndCalibration) {
  INGOT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  INGOT_REQUIRE_SHARED("data/c4/c4_sample.json");
  TempDir dir;
  // A tokenizer path with a space and '#' exercises the escaping end to end.
  const std::string odd_dir = dir.file("with space#1");
  fs::create_directories(odd_dir);
  const std::string tok = odd_dir + "/tok 512.model";
  fs::copy_file(shared_path("models/stories260K/tok512.model"), tok);
  const std::string out = dir.file("m.ingot"), dep = dir.file("m.d");
  std::string log;
  ASSERT_EQ(run_command(std::string(INGOTC_BIN) + " build " + shared_path("models/stories260K/stories260K.bin") +
                            " --tokenizer '" + tok + "' --method gptq --bits 4 --group-size 32 --calib-samples 4" +
                            " --calib-seqlen 64 --calib " + shared_path("data/c4/c4_sample.json") + " -o " + out +
                            " --depfile " + dep + " 2>&1",
                        &log),
            0)
      << log;
  std::string target;
  std::set<std::string> inputs;
  parse(slurp(dep), &target, &inputs);
  EXPECT_EQ(target, norm(out));
  const std::set<std::string> want = {norm(shared_path("models/stories260K/stories260K.bin")), norm(tok),
                                      norm(shared_path("data/c4/c4_sample.json"))};
  EXPECT_EQ(inputs, want) << slurp(dep);
}

TEST(Depfile, ListsTheFilesOfAHuggingFaceDirectory) {
  INGOT_REQUIRE_SHARED("models/stories260K-hf/config.json");
  TempDir dir;
  const std::string out = dir.file("hf.ingot"), dep = dir.file("hf.d");
  std::string log;
  ASSERT_EQ(run_command(std::string(INGOTC_BIN) + " build " + shared_path("models/stories260K-hf") + " -o " + out +
                            " --depfile " + dep + " 2>&1",
                        &log),
            0)
      << log;
  std::string target;
  std::set<std::string> inputs;
  parse(slurp(dep), &target, &inputs);
  std::set<std::string> want;  // every file of the directory is an input of this model
  for (const auto& e : fs::directory_iterator(shared_path("models/stories260K-hf"))) want.insert(norm(e.path().string()));
  EXPECT_EQ(inputs, want) << slurp(dep);
}

TEST(Depfile, NotWrittenWhenTheBuildFails) {
  INGOT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  TempDir dir;
  const std::string dep = dir.file("x.d");
  std::string log;
  EXPECT_NE(run_command(std::string(INGOTC_BIN) + " build " + shared_path("models/stories260K/stories260K.bin") +
                            " --tokenizer " + dir.file("nope.model") + " -o " + dir.file("x.ingot") + " --depfile " +
                            dep + " 2>&1",
                        &log),
            0);
  EXPECT_FALSE(fs::exists(dep));
  EXPECT_FALSE(fs::exists(dir.file("x.ingot")));
}

}  // namespace
}  // namespace ingot::test
