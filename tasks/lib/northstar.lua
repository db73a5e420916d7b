-- A small client for the Northstar profile API, shared by the profile tasks.
local M = {}

function M.url(path)
  return (env.NORTHSTAR_URL or "http://127.0.0.1:7421") .. path
end

-- Profiles changed after `since` (epoch seconds), oldest first.
function M.changed_profiles(since)
  local res = http.get(M.url("/profiles?since=" .. since), { timeout = "10s" })
  if res.status ~= 200 then
    error("northstar answered " .. res.status .. " for the profile list")
  end
  return res:json().profiles
end

return M
