// Writes a small .ingot container with the format library, then reads it back: the smallest
// complete use of format/ (a model compiler does the same at scale).
//   write-container OUT.ingot
#include <cmath>
#include <cstdio>
#include <vector>

#include "ingot/format/reader.h"
#include "ingot/format/writer.h"

using namespace ingot;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.ingot\n", argv[0]);
    return 2;
  }
  std::unique_ptr<format::Writer> w;
  format::Status s = format::Writer::create(argv[1], {}, &w);
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.to_string().c_str()), 1;

  fb::ModelConfigT config;
  config.architecture = "llama";
  config.dim = 8;
  config.n_layer = 1;
  config.n_head = 2;
  config.n_head_kv = 1;
  config.head_dim = 4;
  config.ffn_dim = 12;
  config.vocab_size = 4;
  config.context_length = 32;
  config.bos_id = 1;
  config.eos_id = 2;
  w->set_config(std::move(config));

  fb::TokenizerT tok;
  tok.kind = fb::TokenizerKind::SentencePieceBpe;
  tok.pieces = {"<unk>", "<s>", "</s>", "\xe2\x96\x81hi"};
  tok.scores = {0, 0, 0, -1};
  w->set_tokenizer(std::move(tok));

  std::vector<float> embeddings(4 * 8);  // (vocab, dim)
  for (size_t i = 0; i < embeddings.size(); ++i) embeddings[i] = std::sin(float(i));
  s = w->add_tensor({"tok_embeddings.weight", fb::DType::F32, {4, 8}},
                    format::BlobSource::of(std::span<const float>(embeddings)));
  // A 4-bit (12, 8) weight: each row of 8 values is one uint32 word, low nibble first.
  std::vector<uint32_t> packed(12, 0x76543210u);
  std::vector<uint16_t> scales(12, 0x3c00);  // (1 group, 12 rows) f16 1.0
  format::QuantDesc q;
  q.method = format::QuantMethod::RTN;
  q.bits = 4;
  q.group_size = -1;
  q.scales = format::BlobSource::of(std::span<const uint16_t>(scales));
  if (s.ok()) {
    s = w->add_tensor({"layers.0.feed_forward.w1.weight", fb::DType::Q4, {12, 8}, fb::Layout::PackedRowsK},
                      format::BlobSource::of(std::span<const uint32_t>(packed)), &q);
  }
  if (s.ok()) s = w->add_metadata("general.name", "write-container sample");
  if (s.ok()) s = w->finish();
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.to_string().c_str()), 1;

  std::unique_ptr<format::Container> c;
  s = format::Container::open(argv[1], {.verify_checksums = true}, &c);
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.to_string().c_str()), 1;
  std::printf("wrote %s: %zu tensors, %llu bytes\n", argv[1], c->n_tensors(),
              static_cast<unsigned long long>(c->file_size()));
  return 0;
}
