-- The ChatML chat format (SmolLM2, Qwen2 and others; what SmolLM2-135M-Instruct's own Jinja
-- template in its GGUF renders, tokenizer.chat_template):
--   <|im_start|>{role}\n{content}<|im_end|>\n   for every message, then <|im_start|>assistant\n
-- When the conversation does not open with a system message, SmolLM2's template adds its
-- default one, as here: "You are a helpful AI assistant named SmolLM, trained by Hugging Face".
-- Written by hand (no Jinja engine yet); ctx.chat_template is not read.
local DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

function format_prompt(messages, ctx)
  local out = {}
  if #messages == 0 or messages[1].role ~= "system" then
    out[1] = "<|im_start|>system\n" .. DEFAULT_SYSTEM .. "<|im_end|>\n"
  end
  for _, m in ipairs(messages) do
    out[#out + 1] = "<|im_start|>" .. m.role .. "\n" .. m.content .. "<|im_end|>\n"
  end
  out[#out + 1] = "<|im_start|>assistant\n"
  return table.concat(out)
end

-- The reply ends at <|im_end|> (SmolLM2's EOS id; stopping on it here covers containers whose
-- EOS is <|endoftext|>).
function on_token(id, piece, ctx)
  if ctx.special_tokens["<|im_end|>"] == id or ctx.special_tokens["<|endoftext|>"] == id then return "stop" end
  return true
end
