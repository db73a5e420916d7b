-- A notification at a given time: fires once, on Christmas Eve at 18:00 UTC.
return {
  schedule = "at 2026-12-24T18:00:00Z",
  missed   = "once",
  handler  = function(job)
    return { id = queue.push("notify/send", { channel = "#general", text = "Merry Christmas from the jobs team" }) }
  end,
}
