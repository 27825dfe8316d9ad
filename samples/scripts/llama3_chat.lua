-- The LLaMA-3 chat format (Meta's llama3 ChatFormat): every message is
--   <|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>
-- after one <|begin_of_text|>, and the prompt ends with an open assistant header.
function format_prompt(messages, ctx)
  local out = { "<|begin_of_text|>" }
  for _, m in ipairs(messages) do
    out[#out + 1] = "<|start_header_id|>" .. m.role .. "<|end_header_id|>\n\n" .. m.content:match("^%s*(.-)%s*$") .. "<|eot_id|>"
  end
  out[#out + 1] = "<|start_header_id|>assistant<|end_header_id|>\n\n"
  return table.concat(out)
end

-- The reply ends at <|eot_id|> (the container lists it among the EOS ids when it came from a
-- LLaMA-3 checkpoint; this makes sure even when it does not).
function on_token(id, piece, ctx)
  if ctx.special_tokens["<|eot_id|>"] == id then return "stop" end
  return true
end
