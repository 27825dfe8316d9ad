-- The LLaMA-2 chat format (Meta's llama/generation.py, chat_completion):
--   <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {answer} </s><s>[INST] {user} [/INST]
-- A system message is folded into the first user turn. ctx.chat_template holds the container's
-- own (Jinja) template when it has one; this script does not need it.
local B_INST, E_INST = "[INST]", "[/INST]"
local B_SYS, E_SYS = "<<SYS>>\n", "\n<</SYS>>\n\n"

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

function format_prompt(messages, ctx)
  local msgs = {}
  for i, m in ipairs(messages) do msgs[i] = m end
  if #msgs > 0 and msgs[1].role == "system" then
    local system = msgs[1].content
    table.remove(msgs, 1)
    if #msgs == 0 then error("a system message needs a user message after it") end
    msgs[1] = { role = msgs[1].role, content = B_SYS .. system .. E_SYS .. msgs[1].content }
  end
  local out = {}
  local i = 1
  while i <= #msgs do
    local user, answer = msgs[i], msgs[i + 1]
    if user.role ~= "user" then
      error("message " .. i .. " has role '" .. tostring(user.role) .. "', expected 'user'")
    end
    if answer ~= nil then
      if answer.role ~= "assistant" then
        error("message " .. (i + 1) .. " has role '" .. tostring(answer.role) .. "', expected 'assistant'")
      end
      out[#out + 1] = "<s>" .. B_INST .. " " .. trim(user.content) .. " " .. E_INST .. " " .. trim(answer.content) .. " </s>"
    else
      out[#out + 1] = "<s>" .. B_INST .. " " .. trim(user.content) .. " " .. E_INST
    end
    i = i + 2
  end
  return table.concat(out)
end
