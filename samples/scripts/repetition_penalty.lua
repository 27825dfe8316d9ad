-- Repetition penalty over the last 64 tokens (prompt included); the built-in sampler then picks
-- the token with its own settings. Equals the built-in --repeat-penalty 1.1 --repeat-last-n 64.
local penalty = 1.1
local window = 64

function process_logits(logits, ctx)
  logits:penalize(ctx:recent(window), penalty)
end
