-- Stops generation when the text generated so far ends with one of the stop sequences; the token
-- that completes it is dropped (on_token returns "stop"). Tokens before it were already streamed.
local stops = { "\n\n", "The end", "." }
local text = ""

function on_token(id, piece, ctx)
  if ctx.n_generated == 0 then text = "" end  -- a new generation
  text = text .. piece
  for _, s in ipairs(stops) do
    if #text >= #s and text:sub(-#s) == s then
      return "stop"
    end
  end
  return true
end
