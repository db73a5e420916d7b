-- Send one notification. Other tasks push these; `crescent enqueue notify/send --args ...` too.
return {
  queue   = "critical",
  ttl     = "15s",
  retry   = { attempts = 8, backoff = "exponential", delay = "5s", max_delay = "15m" },
  handler = function(job)
    local text = job.args.text
    if type(text) ~= "string" or text == "" then
      return job:discard("a notification needs a text")
    end
    local res = http.post(env.NORTHSTAR_URL .. "/notifications", { channel = job.args.channel or "#general", text = text })
    if res.status == 429 then return job:snooze("30s") end
    if res.status >= 300 then error("notification service answered " .. res.status) end
    log.info("notification sent", { channel = job.args.channel })
    return { sent = true }
  end,
}
