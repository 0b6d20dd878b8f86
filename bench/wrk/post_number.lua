-- POST a new Luhn-valid number on every request: KIND=order hands it in
-- (POST /api/user/orders), KIND=withdraw pays 0.01 for it (POST /api/user/balance/withdraw).
wrk.method = "POST"
wrk.headers["Authorization"] = os.getenv("TOKEN")
local kind = os.getenv("KIND")
wrk.headers["Content-Type"] = kind == "withdraw" and "application/json" or "text/plain"

local counter = 0
local prefix

local function luhn(digits)
  local total = 0
  local len = #digits
  for i = len, 1, -1 do
    local d = tonumber(digits:sub(i, i))
    if (len - i) % 2 == 0 then
      d = d * 2
      if d > 9 then d = d - 9 end
    end
    total = total + d
  end
  return digits .. tostring((10 - total % 10) % 10)
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  prefix = tostring(math.random(100000000, 999999999))
end

function request()
  counter = counter + 1
  local number = luhn(prefix .. string.format("%09d", counter))
  if kind == "withdraw" then
    return wrk.format(nil, nil, nil, string.format('{"order": "%s", "sum": 0.01}', number))
  end
  return wrk.format(nil, nil, nil, number)
end
