-- Every five minutes, fetch the profiles that changed since the last successful sync and
-- fan out one import job per profile. The cursor lives in `store` and only advances when the
-- run succeeds (store writes and pushes commit together with the run).
local northstar = require("northstar")

return {
  queue    = "default",
  schedule = "*/5 * * * *",
  unique   = true,          -- a slow sync never overlaps the next one
  ttl      = "2m",
  retry    = { attempts = 3, backoff = "exponential", delay = "30s" },
  handler  = function(job)
    local since = store.get("cursor") or 0
    local profiles = northstar.changed_profiles(since)
    local newest = since
    for _, p in ipairs(profiles) do
      queue.push("profiles/import", { id = p.id })
      if p.updated_at > newest then newest = p.updated_at end
    end
    store.set("cursor", newest)
    log.info("profiles synced", { changed = #profiles, cursor = newest })
    return { changed = #profiles, cursor = newest }
  end,
}
