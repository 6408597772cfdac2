-- POSTs JSON: the body in BODY, or, with EMAILS_FILE and PASSWORD, a token
-- request {"username","password"} cycling through those customers (parallel
-- sign-ins to one account would meet its lockout, which counts attempts in flight).
local counter = 0
local thread_no = 0
local threads = 0
local emails = nil

function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end

function init(args)
  local file = os.getenv("EMAILS_FILE")
  if file and file ~= "" then
    emails = {}
    for line in io.lines(file) do
      emails[#emails + 1] = line
    end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  if not emails then
    return wrk.format(nil, nil, nil, os.getenv("BODY"))
  end
  counter = counter + 1
  local email = emails[((counter * 7919 + thread_no * 104729) % #emails) + 1]
  local body = '{"username":"' .. email .. '","password":"' .. os.getenv("PASSWORD") .. '"}'
  return wrk.format(nil, nil, nil, body)
end
