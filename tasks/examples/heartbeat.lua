-- Every 30 seconds: something to watch on the dashboard right after `make run`. It counts its
-- own runs in `store` and pushes a notification every tenth time (notify/send, on `critical`).
return {
  schedule = "every 30s",
  unique   = true,
  ttl      = "10s",
  handler  = function(job)
    local beats = (tonumber(store.get("beats")) or 0) + 1
    store.set("beats", beats)
    if beats % 10 == 1 then
      queue.push("notify/send", { channel = "#ops", text = "crescent heartbeat " .. beats })
    end
    log.info("heartbeat", { beats = beats })
    return { beats = beats }
  end,
}
