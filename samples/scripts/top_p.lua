-- Temperature + nucleus (top-p) sampling, drawn from the run's seeded RNG.
-- Equals the built-in sampler with --temp 0.8 --top-k 0 --top-p 0.95.
local temperature = 0.8
local top_p = 0.95

function sample(logits, ctx)
  logits:scale(1 / temperature)
  return logits:sample_top_p(top_p)
end
