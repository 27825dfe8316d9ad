-- Greedy decoding: always the most likely token (the built-in sampler's --temp 0).
function sample(logits, ctx)
  return logits:argmax()
end
