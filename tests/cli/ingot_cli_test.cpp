// `ingot inspect` and `ingot verify` as a user runs them: exit codes, stdout, stderr.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "sample_container.h"

namespace ingot::test {
namespace {

using CommandRun = CommandResult;

CommandRun run(const std::string& args) { return run_command(std::string(INGOT_BIN) + " " + args + " 2>&1"); }

CommandRun run_stdout(const std::string& args) { return run(args + " 2>/dev/null"); }

TEST(IngotCli, HelpOnEveryCommand) {
  for (const char* cmd : {"", "inspect ", "verify "}) {
    const CommandRun r = run(std::string(cmd) + "--help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
  EXPECT_NE(run("").exit_code, 0) << "a subcommand is required";
  EXPECT_NE(run("frobnicate").exit_code, 0);
}

TEST(IngotCli, InspectJsonDescribesEveryTensor) {
  TempDir dir;
  const Sample s = make_sample(5);
  ASSERT_TRUE(write_sample(s, dir.file("m.ingot"), {.compress = true}).ok());
  const CommandRun r = run_stdout("inspect --json " + dir.file("m.ingot"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["tensors"].size(), s.tensors.size());
  for (size_t i = 0; i < s.tensors.size(); ++i) {
    const auto& t = j["tensors"][i];
    EXPECT_EQ(t["name"], s.tensors[i].desc.name);
    EXPECT_EQ(t["shape"].get<std::vector<uint64_t>>(), s.tensors[i].desc.shape);
    EXPECT_EQ(t["data"]["raw_size"].get<uint64_t>(), s.tensors[i].data.size());
    EXPECT_EQ(t.contains("quant"), s.tensors[i].quantized);
  }
  EXPECT_EQ(j["header"]["version"], "1.1");  // spec/container.md §10: 1.1 is the current minor
  EXPECT_EQ(j["config"]["n_head_kv"], 2);
  EXPECT_EQ(j["config"]["rope_scaling"]["type"], "llama3");
  EXPECT_EQ(j["tokenizer"]["n_pieces"], 40);
  EXPECT_EQ(j["provenance"]["compiler"], "ingot-tests");
  EXPECT_EQ(j["metadata"]["license"], "MIT");
  EXPECT_EQ(j["header"]["file_size"].get<uint64_t>(), read_file(dir.file("m.ingot")).size());
}

TEST(IngotCli, InspectTextShowsTheTableAndTotals) {
  TempDir dir;
  ASSERT_TRUE(write_sample(make_sample(5), dir.file("m.ingot"), {}).ok());
  const CommandRun r = run_stdout("inspect " + dir.file("m.ingot"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* want : {"header", "config", "tokenizer", "tensors", "totals", "provenance",
                           "layers.0.feed_forward.w2.weight", "q3", "packed-rows-k", "gptq 3-bit g8 asym act-order",
                           "8 tensors"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
}

TEST(IngotCli, VerifyPassesThenNamesTheDamagedTensor) {
  TempDir dir;
  const std::string path = dir.file("m.ingot");
  ASSERT_TRUE(write_sample(make_sample(6), path, {}).ok());
  CommandRun r = run("verify " + path);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("OK"), std::string::npos);

  // Flip a byte inside the first tensor's data: only its checksum can see it.
  std::unique_ptr<format::Container> c;
  ASSERT_TRUE(format::Container::open(path, {}, &c).ok());
  const uint64_t at = c->header().data_offset + c->find_tensor("tok_embeddings.weight")->data()->offset() + 17;
  c.reset();
  std::vector<uint8_t> f = read_file(path);
  f[at] ^= 0x40;
  write_file(path, f);
  EXPECT_EQ(run_stdout("inspect " + path).exit_code, 0) << "inspect does not read blobs";
  r = run("verify " + path);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("tok_embeddings.weight"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("checksum"), std::string::npos) << r.out;
}

TEST(IngotCli, BadFilesGiveAClearErrorAndNonZeroExit) {
  TempDir dir;
  CommandRun r = run("inspect " + dir.file("missing.ingot"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("No such file"), std::string::npos) << r.out;
  write_file(dir.file("text.ingot"), {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'});
  r = run("verify " + dir.file("text.ingot"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("not an .ingot file"), std::string::npos) << r.out;
  ASSERT_TRUE(write_sample(make_sample(6), dir.file("t.ingot"), {}).ok());
  std::vector<uint8_t> f = read_file(dir.file("t.ingot"));
  f.resize(f.size() - 100);
  write_file(dir.file("t.ingot"), f);
  r = run("inspect " + dir.file("t.ingot"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("truncated"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ingot::test
