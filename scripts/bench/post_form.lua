-- POSTs a form with the CSRF key and cookie from the environment, or, with
-- SESSIONS_FILE ("cookie<TAB>form key" lines), as many visitors in turn, each
-- with their own session (one shared session would make every request wait for
-- the same session row); the email field cycles through EMAILS_FILE when set,
-- else is unique per request (unknownT-N@bench.invalid: an address with no account).
local counter = 0
local thread_no = 0
local emails = nil
local threads = 0
local sessions = nil

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
  local file = os.getenv("SESSIONS_FILE")
  if file and file ~= "" then
    sessions = {}
    for line in io.lines(file) do
      local cookie, key = line:match("^(.-)\t(.*)$")
      sessions[#sessions + 1] = { cookie = cookie, key = key }
    end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Cookie"] = os.getenv("COOKIE")
end

local function escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  counter = counter + 1
  local email
  if emails then
    email = emails[((counter * 7919 + thread_no * 104729) % #emails) + 1]
  else
    email = "unknown" .. thread_no .. "-" .. counter .. "@bench.invalid"
  end
  local key = os.getenv("FORM_KEY")
  local headers = nil
  if sessions then
    local session = sessions[((counter + thread_no * 31) % #sessions) + 1]
    key = session.key
    headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = session.cookie }
  end
  local body = "form_key=" .. escape(key) .. "&email=" .. escape(email)
  return wrk.format(nil, nil, headers, body)
end
