// A batch: a flat list of tokens, each with the sequence it extends, its position there, and
// whether its logits are wanted. Prompt chunks of some sequences and single decode tokens of
// others go into one step (forward.h says what a valid batch is).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ingot::runtime {

struct BatchToken {
  int32_t token = 0;
  size_t seq = 0;  // index into the sequences passed with the batch
  size_t pos = 0;  // its position in that sequence
  bool wants_logits = false;
};

struct Batch {
  std::vector<BatchToken> tokens;

  void add(int32_t token, size_t seq, size_t pos, bool wants_logits) {
    tokens.push_back({token, seq, pos, wants_logits});
  }
  size_t size() const { return tokens.size(); }
  void clear() { tokens.clear(); }
  size_t n_logits() const {
    size_t n = 0;
    for (const BatchToken& t : tokens) n += t.wants_logits ? 1 : 0;
    return n;
  }
};

}  // namespace ingot::runtime
