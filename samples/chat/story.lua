-- A "chat" template for a model that only continues stories (stories260K): the conversation is
-- one running text. Each message continues it after a space, so a single user line is the prompt
-- exactly and the reply is the model's plain continuation of it.
function format_prompt(messages, ctx)
  local parts = {}
  for i, m in ipairs(messages) do
    if m.role == "system" then error("story.lua has no place for a system message") end
    parts[i] = m.content
  end
  return table.concat(parts, " ")
end
