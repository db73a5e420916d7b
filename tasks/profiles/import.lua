-- Copy one profile from Northstar into the CRM. Pushed by profiles/sync.
local northstar = require("northstar")

return {
  unique  = "args",         -- the same profile is never imported twice at once
  ttl     = "30s",
  retry   = { attempts = 5, delay = "10s", max_delay = "10m" },
  handler = function(job)
    local res = http.get(northstar.url("/profiles/" .. job.args.id))
    if res.status == 404 then
      return job:discard("profile " .. job.args.id .. " no longer exists")
    end
    if res.status ~= 200 then error("northstar answered " .. res.status) end
    local profile = res:json()
    local saved = http.put(northstar.url("/crm/contacts/" .. profile.id), { name = profile.name, email = profile.email })
    if saved.status >= 300 then error("crm answered " .. saved.status) end
    return { imported = profile.id }
  end,
}
