-- wrk script of bench/billing_bench.py: POST prepared requests read from a file, each one once.
-- Arguments (after wrk's "--"): <file> <wrk threads>; done() is report.lua's, beside this file. A line of the file is
-- "<header line>\t<body>" (the header line may be empty; -H headers are added to every request). wrk thread
-- i takes lines i, i+n, i+2n ..., so no two threads send the same line; a thread whose share runs out starts
-- it again, which the bench notices (the server stores fewer events than it answered).
local made = 0

function setup(thread)
  thread:set("tid", made)
  made = made + 1
end

local prepared, at = {}, 1

function init(args)
  local threads, n = tonumber(args[2]), 0
  for line in io.lines(args[1]) do
    if n % threads == tid then
      local header, body = line:match("^([^\t]*)\t(.*)$")
      local headers = {}
      for k, v in pairs(wrk.headers) do headers[k] = v end
      local name, value = header:match("^([^:]+):%s*(.*)$")
      if name then headers[name] = value end
      prepared[#prepared + 1] = wrk.format("POST", nil, headers, body)
    end
    n = n + 1
  end
  if #prepared == 0 then error("posts.lua: no lines for wrk thread " .. tid) end
end

function request()
  local r = prepared[at]
  at = at % #prepared + 1
  return r
end

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
