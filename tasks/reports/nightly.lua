-- At 02:00 Berlin time, build yesterday's sign-up report and hand it to the notifier.
return {
  schedule = "0 2 * * *",
  timezone = "Europe/Berlin",
  missed   = "once",        -- after downtime, build one report, not one per missed night
  unique   = true,
  ttl      = "10m",
  handler  = function(job)
    local day = os.date("!%Y-%m-%d", math.floor(now()) - 86400)
    local res = http.get(env.NORTHSTAR_URL .. "/reports/signups?day=" .. day)
    if res.status ~= 200 then error("report source answered " .. res.status) end
    local report = res:json()
    queue.push("notify/send", {
      channel = "#growth",
      text = string.format("%s: %d sign-ups", day, report.count),
    })
    return report
  end,
}
