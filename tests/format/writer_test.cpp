// The writer's promises: sizes checked against dtype x shape, nothing half-written ever visible,
// an existing output untouched on error, abort or SIGINT/SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sample_container.h"

namespace ingot::test {
namespace {

using format::Status;
using format::StatusCode;
using format::Writer;

std::vector<uint8_t> filler(size_t n) { return std::vector<uint8_t>(n, 0x5a); }

TEST(FormatWriter, RejectsSizesThatDisagreeWithDtypeAndShape) {
  TempDir dir;
  std::unique_ptr<Writer> w;
  ASSERT_TRUE(Writer::create(dir.file("o.ingot"), {}, &w).ok());
  const auto d = filler(100);
  Status s = w->add_tensor({"a", fb::DType::F32, {5, 6}}, format::BlobSource(d));
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_NE(s.message().find("'a'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("120"), std::string::npos) << s.message();
  // Packed 4-bit (3, 10): each row of 40 bits takes two words -> 24 bytes.
  const auto p = filler(24);
  EXPECT_TRUE(w->add_tensor({"q", fb::DType::Q4, {3, 10}, fb::Layout::PackedRowsK}, format::BlobSource(p)).ok());
  // Quantized without scales of the right size.
  format::QuantDesc q;
  q.bits = 4;
  q.group_size = 4;  // ceil(10 / 4) = 3 groups x 3 rows x f16 = 18 bytes
  const auto bad_scales = filler(12);
  q.scales = format::BlobSource(bad_scales);
  s = w->add_tensor({"q2", fb::DType::Q4, {3, 10}, fb::Layout::PackedRowsK}, format::BlobSource(p), &q);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_NE(s.message().find("scales"), std::string::npos) << s.message();
  // Bits that disagree with the dtype.
  const auto good_scales = filler(18);
  q.scales = format::BlobSource(good_scales);
  q.bits = 3;
  EXPECT_EQ(w->add_tensor({"q3", fb::DType::Q4, {3, 10}, fb::Layout::PackedRowsK}, format::BlobSource(p), &q).code(),
            StatusCode::invalid_argument);
  q.bits = 4;
  EXPECT_TRUE(w->add_tensor({"q4", fb::DType::Q4, {3, 10}, fb::Layout::PackedRowsK}, format::BlobSource(p), &q).ok());
  // Duplicate names, empty names, zero dimensions, unknown dtypes.
  EXPECT_EQ(w->add_tensor({"q", fb::DType::Q4, {3, 10}, fb::Layout::PackedRowsK}, format::BlobSource(p)).code(),
            StatusCode::invalid_argument);
  EXPECT_EQ(w->add_tensor({"", fb::DType::U8, {24}}, format::BlobSource(p)).code(), StatusCode::invalid_argument);
  EXPECT_EQ(w->add_tensor({"z", fb::DType::U8, {0}}, format::BlobSource(std::span<const uint8_t>())).code(), StatusCode::invalid_argument);
  EXPECT_EQ(w->add_tensor({"u", fb::DType(99), {24}}, format::BlobSource(p)).code(), StatusCode::invalid_argument);
  EXPECT_EQ(w->add_metadata("k", "1").code(), StatusCode::ok);
  EXPECT_EQ(w->add_metadata("k", "2").code(), StatusCode::invalid_argument);
  // Rejected calls do not spoil the writer.
  ASSERT_TRUE(w->finish().ok());
  std::unique_ptr<format::Container> c;
  ASSERT_TRUE(format::Container::open(dir.file("o.ingot"), {.verify_checksums = true}, &c).ok());
  EXPECT_EQ(c->n_tensors(), 2u);
}

TEST(FormatWriter, RejectsBadOptionsAndPaths) {
  TempDir dir;
  std::unique_ptr<Writer> w;
  EXPECT_EQ(Writer::create(dir.file("o.ingot"), {.alignment = 48}, &w).code(), StatusCode::invalid_argument);
  EXPECT_EQ(Writer::create(dir.file("o.ingot"), {.alignment = 32}, &w).code(), StatusCode::invalid_argument);
  EXPECT_EQ(Writer::create(dir.file("o.ingot"), {.alignment = 2u << 20}, &w).code(), StatusCode::invalid_argument);
  EXPECT_EQ(Writer::create(dir.path().string(), {}, &w).code(), StatusCode::invalid_argument);
  const Status s = Writer::create(dir.file("missing/o.ingot"), {}, &w);
  EXPECT_EQ(s.code(), StatusCode::io_error);
  EXPECT_NE(s.message().find("missing"), std::string::npos) << s.message();
}

TEST(FormatWriter, NothingAppearsUntilFinishAndAbortLeavesTheOldFile) {
  TempDir dir;
  const std::string out = dir.file("model.ingot");
  write_file(out, {'o', 'l', 'd'});
  {
    std::unique_ptr<Writer> w;
    ASSERT_TRUE(Writer::create(out, {}, &w).ok());
    const auto d = filler(4096);
    ASSERT_TRUE(w->add_tensor({"t", fb::DType::U8, {4096}}, format::BlobSource(d)).ok());
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.ingot"}) << "no temporary file is visible";
    EXPECT_EQ(read_file(out), (std::vector<uint8_t>{'o', 'l', 'd'}));
    // Destroyed without finish(): aborts.
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.ingot"});
  EXPECT_EQ(read_file(out), (std::vector<uint8_t>{'o', 'l', 'd'}));
  // A finished writer replaces it.
  ASSERT_TRUE(write_sample(make_sample(1), out, {}).ok());
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.ingot"});
  std::unique_ptr<format::Container> c;
  EXPECT_TRUE(format::Container::open(out, {}, &c).ok());
}

TEST(FormatWriter, StreamsChunkedSourcesAndKeepsZerosSparse) {
  TempDir dir;
  const std::string out = dir.file("s.ingot");
  std::unique_ptr<Writer> w;
  ASSERT_TRUE(Writer::create(out, {}, &w).ok());
  const uint64_t n = 64ull << 20;  // 64 MiB of zeros with a marker in the middle
  ASSERT_TRUE(w->add_tensor({"big", fb::DType::U8, {n}}, format::BlobSource::chunked(n, [&](uint64_t off, std::span<uint8_t> out) {
                              std::fill(out.begin(), out.end(), 0);
                              if (off <= n / 2 && n / 2 < off + out.size()) out[n / 2 - off] = 0xab;
                            })).ok());
  ASSERT_TRUE(w->finish().ok());
  struct stat st {};
  ASSERT_EQ(stat(out.c_str(), &st), 0);
  EXPECT_LT(uint64_t(st.st_blocks) * 512, n / 4) << "all-zero chunks are holes on disk";
  std::unique_ptr<format::Container> c;
  ASSERT_TRUE(format::Container::open(out, {.verify_checksums = true}, &c).ok());
  format::BlobBytes b;
  ASSERT_TRUE(c->read_tensor(c->tensor(0), true, &b).ok());
  ASSERT_EQ(b.bytes().size(), n);
  EXPECT_EQ(b.bytes()[n / 2], 0xab);
  EXPECT_EQ(b.bytes()[n / 2 - 1], 0);
}

// SIGTERM/SIGINT at two moments: while blobs stream, and with the complete file synced under its
// temporary name just before the rename. Either way: the old output intact, no temporary left.
class FormatWriterSignal : public ::testing::TestWithParam<std::tuple<int, const char*>> {};

TEST_P(FormatWriterSignal, OldOutputSurvivesAndNoTemporaryRemains) {
  const auto [sig, stage] = GetParam();
  TempDir dir;
  const std::string out = dir.file("model.ingot");
  write_file(out, {'o', 'l', 'd'});
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(ready[0]);
    const std::string wanted = stage;
    format::WriterOptions opt;
    opt.on_progress = [&](const format::WriterProgress& p) {
      if (wanted == p.stage) {
        (void)!write(ready[1], "x", 1);
        for (;;) pause();  // wait to be killed
      }
    };
    std::unique_ptr<Writer> w;
    if (!Writer::create(out, opt, &w).ok()) _exit(3);
    const auto d = filler(1 << 20);
    for (int i = 0; i < 4; ++i) {
      if (!w->add_tensor({"t" + std::to_string(i), fb::DType::U8, {1 << 20}}, format::BlobSource(d)).ok()) _exit(4);
    }
    (void)w->finish();
    _exit(5);  // not reached: the signal comes first
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1) << "child reached the stage";
  close(ready[0]);
  if (std::string(stage) == "publish") {
    // The complete temporary file exists right now, beside the old output.
    EXPECT_EQ(dir.entries().size(), 2u);
  }
  ASSERT_EQ(kill(pid, sig), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), sig);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.ingot"});
  EXPECT_EQ(read_file(out), (std::vector<uint8_t>{'o', 'l', 'd'}));
}

INSTANTIATE_TEST_SUITE_P(Signals, FormatWriterSignal,
                         ::testing::Combine(::testing::Values(SIGINT, SIGTERM), ::testing::Values("tensor", "publish")),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == SIGINT ? "SIGINT_" : "SIGTERM_") +
                                  std::get<1>(info.param);
                         });

}  // namespace
}  // namespace ingot::test

namespace ingot::test {
namespace {

TEST(FormatWriter, RefusesAConfigOrTokenizerTheReaderWouldRefuse) {
  TempDir dir;
  const Sample s = make_sample(9);
  std::unique_ptr<Writer> w;
  ASSERT_TRUE(Writer::create(dir.file("o.ingot"), {}, &w).ok());
  fb::ModelConfigT c = s.config();
  c.eos_id = 4000;  // vocabulary is 40
  w->set_config(std::move(c));
  Status st = w->finish();
  EXPECT_EQ(st.code(), StatusCode::invalid_argument);
  EXPECT_NE(st.message().find("eos_id"), std::string::npos) << st.message();
  EXPECT_TRUE(dir.entries().empty());
  // Fixed, the same writer publishes.
  w->set_config(s.config());
  fb::TokenizerT t = s.tokenizer();
  t.scores.pop_back();
  w->set_tokenizer(std::move(t));
  EXPECT_EQ(w->finish().code(), StatusCode::invalid_argument);
  w->set_tokenizer(s.tokenizer());
  EXPECT_TRUE(w->finish().ok());
}

}  // namespace
}  // namespace ingot::test
