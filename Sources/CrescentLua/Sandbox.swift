/// The Lua side of the sandbox, run once per VM with the full set of opened libraries.
///
/// It receives the host functions and the `[env]` values, and returns what the Swift
/// side anchors in the registry: `make_env` (a fresh allow-listed `_ENV` for one task
/// file), the job metatable and the weak table of jobs' raw args, the snooze/discard marker
/// metatables and the table of `unique.by` functions that `queue.push` consults. Nothing
/// here is stored in globals.
///
/// What one task can reach is its own: every `_ENV` has its own copies of the libraries and
/// its own read-only `env` proxy; the shared metatables (jobs, HTTP responses, markers,
/// strings) are hidden behind `__metatable`, and a job's raw args are kept outside the job
/// table. `setmetatable` refuses `__gc`: finalizers run with the count hook off, inside
/// whichever attempt happens to be running, so task code gets none.
enum Sandbox {
    static let prelude = #"""
local host, envdata = ...
local G = _G
local pairs, ipairs, setmetatable, rawget, rawset = pairs, ipairs, setmetatable, rawget, rawset
local type, error, tostring, select = type, error, tostring, select
local rawload, collect, concat = load, collectgarbage, table.concat

local json = { encode = host.json_encode, decode = host.json_decode, null = host.null }
local log = { debug = host.log_debug, info = host.log_info, warn = host.log_warn, error = host.log_error }
local store = { get = host.store_get, set = host.store_set, delete = host.store_delete, incr = host.store_incr }

local envmt = {
  __index = envdata,
  __newindex = function() error("env is read-only", 2) end,
  __metatable = false,
}

local unique_fns = {}
local raw_push = host.queue_push
local queue = {
  push = function(task, args, opts)
    local key
    local by = type(task) == "string" and unique_fns[task] or nil
    if by ~= nil and (type(opts) ~= "table" or opts.unique == nil) then
      key = by(args == nil and {} or args)
      if key ~= nil then key = tostring(key) end
    end
    return raw_push(task, args, opts, key)
  end,
}

local decode = host.json_decode
local resmt = { __index = { json = function(self) return decode(self.body) end }, __metatable = false }
local raw_request = host.http_request
local function request(opts)
  if type(opts) ~= "table" then error("http.request expects a table of options", 2) end
  local status, headers, body = raw_request(opts)
  return setmetatable({ status = status, headers = headers, body = body }, resmt)
end
local function shorthand(method, hasbody)
  return function(url, a, b)
    local opts, body
    if hasbody then body, opts = a, b else opts = a end
    local r = {}
    if type(opts) == "table" then for k, v in pairs(opts) do r[k] = v end end
    r.method = method
    r.url = url
    if hasbody and body ~= nil then r.body = body end
    return request(r)
  end
end
local http = {
  request = request,
  get = shorthand("GET"), head = shorthand("HEAD"), delete = shorthand("DELETE"),
  post = shorthand("POST", true), put = shorthand("PUT", true), patch = shorthand("PATCH", true),
}

local snoozemt, discardmt = { __metatable = false }, { __metatable = false }
local duration = host.duration
local raw_progress = host.job_progress
local jobmethods = {
  progress = function(self, done, total, note) return raw_progress(done, total, note) end,
  snooze = function(self, d) return setmetatable({ seconds = duration(d, "job:snooze") }, snoozemt) end,
  discard = function(self, reason)
    return setmetatable({ reason = reason == nil and "discarded" or tostring(reason) }, discardmt)
  end,
}
-- job table -> its args as JSON text, until job.args is first read (then decoded into the job).
local jobargs = setmetatable({}, { __mode = "k" })
local jobmt = {}
jobmt.__index = function(t, k)
  if k == "args" then
    local raw = jobargs[t]
    local a
    if raw == nil or raw == "{}" then a = {} else a = decode(raw) end
    rawset(t, "args", a)
    jobargs[t] = nil
    return a
  end
  return jobmethods[k]
end
jobmt.__metatable = false

local memcheck, memmsg = host.memcheck, "not enough memory"
local function caught(ok, ...)
  if not ok and (...) == memmsg then memcheck() end
  return ok, ...
end
local rawpcall, rawxpcall, rawresume = pcall, xpcall, coroutine.resume
local function safe_setmetatable(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("setmetatable: __gc metamethods (finalizers) are not allowed in task code", 2)
  end
  return setmetatable(t, mt)
end

local basenames = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget", "rawlen", "rawset",
  "select", "setmetatable", "getmetatable", "tonumber", "tostring", "type", "xpcall", "_VERSION",
}
local base = {}
for _, n in ipairs(basenames) do base[n] = G[n] end
base.setmetatable = safe_setmetatable
-- A memory error ends the attempt even when the handler catches it.
base.pcall = function(...) return caught(rawpcall(...)) end
base.xpcall = function(...) return caught(rawxpcall(...)) end
local libs = { string = string, table = table, math = math, utf8 = utf8, coroutine = coroutine }
local ostime, osclock, osdate = os.time, os.clock, os.date
local loadlib, now, sleep = host.loadlib, host.now, host.sleep
local loginfo = host.log_info

local function copy(t)
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  return r
end

local function make_env()
  local env = copy(base)
  for n, t in pairs(libs) do env[n] = copy(t) end
  env.coroutine.resume = function(...) return caught(rawresume(...)) end
  env.os = { time = ostime, clock = osclock, date = osdate }
  env.json, env.log, env.store = copy(json), copy(log), copy(store)
  env.queue, env.http = copy(queue), copy(http)
  env.env, env.now, env.sleep = setmetatable({}, envmt), now, sleep
  env._G = env
  env.collectgarbage = function(opt, ...)
    if opt == nil or opt == "collect" or opt == "count" or opt == "step" then return collect(opt, ...) end
    error("collectgarbage: option \"" .. tostring(opt) .. "\" is not allowed", 2)
  end
  env.load = function(chunk, name, mode, e)
    if e == nil then e = env end
    return rawload(chunk, name, "t", e)
  end
  env.print = function(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    loginfo(concat(parts, "\t"))
  end
  local loaded = {}
  env.require = function(name)
    if type(name) ~= "string" then error("require expects a module name", 2) end
    local m = loaded[name]
    if m ~= nil then return m end
    local f = loadlib(name, env)
    m = f(name)
    if m == nil then m = true end
    loaded[name] = m
    return m
  end
  return env
end

-- Strings keep their methods, but no task can reach (and change) the shared string table.
getmetatable("").__metatable = false

-- Nothing dangerous stays reachable from the main state's globals either.
for _, n in ipairs({ "io", "debug", "package", "require", "dofile", "loadfile", "load", "os" }) do G[n] = nil end

return { make_env = make_env, jobmt = jobmt, jobmethods = jobmethods, jobargs = jobargs, snoozemt = snoozemt, discardmt = discardmt, unique_fns = unique_fns }
"""#
}
