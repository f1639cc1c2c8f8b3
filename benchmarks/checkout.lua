-- wrk script: one checkout per pre-created cart (ids in the file given after --), each with its own
-- Idempotency-Key. When the carts run out the script stops sending rather than replaying orders.
local carts = {}
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    carts[#carts + 1] = line
  end
end

function request()
  index = index + 1
  local cart = carts[index]
  if cart == nil then
    wrk.thread:stop()
    cart = carts[#carts]
  end
  local body = '{"cart_id":"' .. cart .. '","email":"bench@example.com"}'
  return wrk.format("POST", "/api/checkout",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = "bench-" .. cart}, body)
end
