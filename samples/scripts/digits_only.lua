-- Constrained output: only tokens that spell digits (optionally after a word-start space) may be
-- generated, so the text is digits and spaces. The allowed list is built once from the vocabulary.
local allowed = nil

local function is_digits(piece)
  return piece:match("^\u{2581}?%d+$") ~= nil     -- SentencePiece "▁12", "7"
      or piece:match("^<0x3[0-9]>$") ~= nil        -- byte-fallback tokens for '0'..'9'
      or piece:match("^\u{0120}?%d+$") ~= nil       -- byte-level BPE "Ġ12"
end

function process_logits(logits, ctx)
  if allowed == nil then
    allowed = {}
    for id = 0, ctx.n_vocab - 1 do
      if is_digits(ctx:piece(id)) then allowed[#allowed + 1] = id end
    end
    if #allowed == 0 then error("the vocabulary has no digit tokens") end
  end
  logits:allow(allowed)
end
