-- Mixed, realistic traffic for scripts/soak.sh: storefront pages, forgot
-- password, sign-in failures, REST token and me, the admin grid. Each request
-- comes from a random client address (X-Forwarded-For; the server trusts
-- 127.0.0.1 as its proxy), so per-IP limits act as they would in a shop.
-- Environment: FORM_KEY, COOKIE (a visitor's jar), ADMIN_COOKIE, BEARER,
-- EMAILS_FILE (known customers), DEMO_PASSWORD.
-- Counts answers by class; done() prints one "soak:" line per class for soak.sh.
local threads = {}
local counter = 0
local emails = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local function escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  for line in io.lines(os.getenv("EMAILS_FILE")) do
    emails[#emails + 1] = line
  end
  s2, s3, s4, s5, s429, other = 0, 0, 0, 0, 0, 0
  math.randomseed(os.time() + id * 7919)
end

local form_key = escape(os.getenv("FORM_KEY") or "")
local cookie = os.getenv("COOKIE") or ""
local admin_cookie = os.getenv("ADMIN_COOKIE") or ""
local bearer = os.getenv("BEARER") or ""
local demo_password = os.getenv("DEMO_PASSWORD") or ""
local grid_words = { "smith", "jan", "de", "example", "an", "mar" }

-- name, weight, builder
local mix = {
  { "page", 30, function(ip) return wrk.format("GET", ({ "/customer/account/login", "/customer/account/forgotpassword", "/customer/account/create", "/" })[math.random(4)], { ["X-Forwarded-For"] = ip, Cookie = cookie }) end },
  { "forgot", 15, function(ip)
      local email = math.random(4) == 1 and ("nobody" .. math.random(1000000) .. "@soak.invalid") or emails[math.random(#emails)]
      return wrk.format("POST", "/customer/account/forgotpassword",
        { ["X-Forwarded-For"] = ip, Cookie = cookie, ["Content-Type"] = "application/x-www-form-urlencoded" },
        "form_key=" .. form_key .. "&email=" .. escape(email))
    end },
  { "sign_in_fail", 15, function(ip)
      return wrk.format("POST", "/customer/account/login",
        { ["X-Forwarded-For"] = ip, Cookie = cookie, ["Content-Type"] = "application/x-www-form-urlencoded" },
        "form_key=" .. form_key .. "&email=" .. escape(emails[math.random(#emails)]) .. "&password=wrong-" .. math.random(1000000))
    end },
  { "rest_token", 3, function(ip)
      return wrk.format("POST", "/rest/V1/integration/customer/token",
        { ["X-Forwarded-For"] = ip, ["Content-Type"] = "application/json" },
        '{"username":"' .. emails[math.random(#emails)] .. '","password":"' .. demo_password .. '"}')
    end },
  { "rest_me", 20, function(ip)
      return wrk.format("GET", "/rest/V1/customers/me", { ["X-Forwarded-For"] = ip, Authorization = "Bearer " .. bearer })
    end },
  { "grid", 7, function(ip)
      local q = ({ "", "?q=" .. grid_words[math.random(#grid_words)], "?sort=email&dir=asc", "?locked=yes", "?page=" .. math.random(50) })[math.random(5)]
      return wrk.format("GET", "/admin/customers" .. q, { ["X-Forwarded-For"] = "192.0.2.10", Cookie = admin_cookie })
    end },
}
local total_weight = 0
for _, m in ipairs(mix) do total_weight = total_weight + m[2] end

function request()
  local r = math.random(total_weight)
  local ip = "10." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "." .. math.random(1, 254)
  for _, m in ipairs(mix) do
    r = r - m[2]
    if r <= 0 then
      return m[3](ip)
    end
  end
end

function response(status, headers, body)
  if status >= 500 then s5 = s5 + 1
  elseif status == 429 then s429 = s429 + 1
  elseif status >= 400 then s4 = s4 + 1
  elseif status >= 300 then s3 = s3 + 1
  elseif status >= 200 then s2 = s2 + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local t = { s2 = 0, s3 = 0, s4 = 0, s5 = 0, s429 = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
  end
  io.write(string.format("soak: requests=%d seconds=%.1f 2xx=%d 3xx=%d 4xx=%d 429=%d 5xx=%d other=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
    summary.requests, summary.duration / 1e6, t.s2, t.s3, t.s4, t.s429, t.s5, t.other,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
