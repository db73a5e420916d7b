-- Re-import every profile Northstar has: a long job that reports how far it got with
-- job:progress (shown by `crescent job ID`, `crescent jobs`, the API and the dashboard).
-- Started by hand: crescent enqueue profiles/backfill
local northstar = require("northstar")

---@type crescent.Task
return {
  unique  = true,           -- one backfill at a time
  ttl     = "1h",
  retry   = { attempts = 3, delay = "1m" },
  handler = function(job)
    local profiles = northstar.changed_profiles(0)
    local total = #profiles
    job:progress(0, total, "listing done")
    for i, p in ipairs(profiles) do
      queue.push("profiles/import", { id = p.id })
      job:progress(i, total, "profile " .. p.id)   -- written at most about once a second
    end
    return { pushed = total }
  end,
}
