#!/usr/bin/env python3
"""Generate Tests/CrescentCoreTests/Fixtures/cron-table.json for Crescent's cron tests.

Each row holds a cron expression, an IANA time zone, a start instant and the next five
occurrences (epoch seconds) computed by the reference library cronsim
(`pip install cronsim`). The Swift differential test compares Schedule.next against it.

Where cronsim is known to differ from SPEC §3 the row is kept but annotated with
"spec_differs" (the test counts and skips those rows):
  * cronsim applies cronie's daylight-saving rule only to 5-field expressions; 6-field
    ones with fixed minute and hour follow the wall clock in cronsim, while Crescent
    applies the same rule to both. Such rows are annotated when a daylight-saving change
    lies within the row's time span.
  * cronsim advances hours by adding 3600 s of real time; after a 30-minute
    daylight-saving shift (Australia/Lord_Howe) that lands on :30 local and skips
    matching wall times. For clock-following 5-field rows whose span crosses a
    daylight-saving change, the generator scans every minute of the span with cronsim's
    own parsed fields and annotates rows where cronsim's answer differs from that scan.

cronsim reads a one-value stepped range such as `4-4/2` as `4/2` (4 to the field's
end); cronie reads it as just 4. The generator does not produce such ranges (a unit test
covers them instead).

Usage: python3 scripts/gen-cron-table.py [--seed N] [--count N] [--out PATH]
The output is deterministic for a given seed and cronsim version.
"""

import argparse
import json
import random
import sys
from importlib import metadata
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import cronsim

MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
DAYS = "SUN MON TUE WED THU FRI SAT".split()

ZONES = [
    "UTC", "UTC", "Europe/Berlin", "Europe/Berlin", "America/New_York", "America/New_York",
    "Australia/Sydney", "Asia/Kolkata", "Australia/Lord_Howe",
]

# Start instants: ordinary days, and days just before daylight-saving changes in the
# zones above (EU 2026-03-29 / 2026-10-25, US 2026-03-08 / 2026-11-01, Sydney
# 2026-04-05 / 2026-10-04), plus a leap year.
STARTS = [
    "2026-01-15T10:17:23Z", "2026-03-07T12:00:00Z", "2026-03-28T12:00:00Z",
    "2026-03-29T00:10:00Z", "2026-04-04T10:00:00Z", "2026-06-30T23:59:59Z",
    "2026-10-03T10:00:00Z", "2026-10-24T12:00:00Z", "2026-10-24T23:40:00Z",
    "2026-10-31T12:00:00Z", "2027-12-31T23:00:00Z", "2028-02-27T08:00:00Z",
]


def name(rng, names, value):
    """A value as a number or, sometimes, as a name in random letter case."""
    if names is None or rng.random() < 0.6:
        return str(value)
    text = names[value % len(names)]
    return rng.choice([text, text.lower(), text.capitalize()])


def atom(rng, low, high, names=None, allow_star=True):
    """One list item: a value, a range, a stepped range, `*/n` or `n/step`."""
    kind = rng.random()
    if kind < 0.30:
        return name(rng, names, rng.randint(low, high))
    if kind < 0.55:
        a = rng.randint(low, high)
        b = rng.randint(a, high)
        return f"{name(rng, names, a)}-{name(rng, names, b)}"
    if kind < 0.70 and low < high:
        a = rng.randint(low, high - 1)
        b = rng.randint(a + 1, high)
        return f"{name(rng, names, a)}-{name(rng, names, b)}/{rng.randint(1, max(1, (high - low) // 2))}"
    if kind < 0.85 and allow_star:
        return f"*/{rng.randint(1, max(1, (high - low) // 2))}"
    a = rng.randint(low, high)
    return f"{name(rng, None, a)}/{rng.randint(1, max(1, (high - low) // 2))}"


def field(rng, low, high, names=None, star=0.35):
    r = rng.random()
    if r < star:
        return "*"
    if r < star + 0.45:
        return atom(rng, low, high, names)
    # a list of 2-3 items (a `*/n` only as the first, so a star prefix stays meaningful)
    items = [atom(rng, low, high, names, allow_star=False) for _ in range(rng.randint(2, 3))]
    return ",".join(items)


def expression(rng):
    secs = rng.random() < 0.2
    parts = []
    if secs:
        parts.append(field(rng, 0, 59, star=0.3))
    parts.append(field(rng, 0, 59, star=0.25))
    parts.append(field(rng, 0, 23, star=0.4))
    parts.append(field(rng, 1, 31, star=0.6))
    parts.append(field(rng, 1, 12, MONTHS, star=0.6))
    parts.append(field(rng, 0, 7, DAYS, star=0.6))
    return " ".join(parts)


# Hand-picked rows: the cases the issue names (names, steps, the dom/dow rule, leap days,
# month ends, daylight saving in both directions).
FIXED = [
    ("0 0 1 * */2", "UTC", "2026-01-15T10:17:23Z"),
    ("0 0 1 * 1-5", "UTC", "2026-01-15T10:17:23Z"),
    ("0 0 13 * FRI", "UTC", "2026-01-15T10:17:23Z"),
    ("0 0 */2 * MON", "UTC", "2026-01-15T10:17:23Z"),
    ("0 12 29 2 *", "UTC", "2026-01-15T10:17:23Z"),
    ("0 0 31 * *", "UTC", "2026-01-15T10:17:23Z"),
    ("59 23 30,31 * *", "UTC", "2026-01-15T10:17:23Z"),
    ("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z"),
    ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z"),
    ("*/30 * * * *", "Europe/Berlin", "2026-03-29T00:10:00Z"),
    ("*/30 * * * *", "Europe/Berlin", "2026-10-24T23:40:00Z"),
    ("0 * * * *", "Europe/Berlin", "2026-10-24T23:40:00Z"),
    ("15 2 * * *", "America/New_York", "2026-03-07T12:00:00Z"),
    ("15 1 * * *", "America/New_York", "2026-10-31T12:00:00Z"),
    ("0 2 * * SUN", "Australia/Sydney", "2026-10-03T10:00:00Z"),
    ("0 9 * JAN-MAR,jul mon-fri", "Europe/Berlin", "2026-01-15T10:17:23Z"),
    ("5/15 * * * *", "UTC", "2026-01-15T10:17:23Z"),
    ("1-30/7 3 * * *", "UTC", "2026-01-15T10:17:23Z"),
    ("*/10 30 2 * * *", "UTC", "2026-01-15T10:17:23Z"),
    ("0 0 0 * * 7", "UTC", "2026-01-15T10:17:23Z"),
]


def has_dst_change(zone, start, times):
    if zone == "UTC" or not times:
        return False
    tz = ZoneInfo(zone)
    end = datetime.fromtimestamp(times[-1], timezone.utc)
    offsets = {start.astimezone(tz).utcoffset()}
    t = start
    while t <= end and len(offsets) == 1:
        offsets.add(t.astimezone(tz).utcoffset())
        t += timedelta(hours=6)
    offsets.add(end.astimezone(tz).utcoffset())
    return len(offsets) > 1


def clock_scan(sim, zone, start, end, count):
    """The first `count` instants in (start, end] whose local wall time matches `sim`'s
    fields, scanning every minute of real time (5-field expressions)."""
    tz = ZoneInfo(zone)
    t = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    out = []
    while t <= end and len(out) < count:
        local = t.astimezone(tz)
        if (local.minute in sim.minutes and local.hour in sim.hours and local.month in sim.months
                and sim.match_day(local.date())):
            out.append(int(t.timestamp()))
        t += timedelta(minutes=1)
    return out


def row(expr, zone, start_text):
    start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
    it = cronsim.CronSim(expr, start.astimezone(ZoneInfo(zone)))
    times = []
    try:
        for _ in range(5):
            times.append(int(next(it).timestamp()))
    except StopIteration:
        return None
    out = {"expr": expr, "tz": zone, "from": int(start.timestamp()), "next": times}
    fields = expr.split()
    fixed_time = not fields[-5].startswith("*") and not fields[-4].startswith("*")
    if len(fields) == 6 and fixed_time and has_dst_change(zone, start, times):
        out["spec_differs"] = "cronsim follows the wall clock for 6-field fixed-time expressions across daylight saving; SPEC applies cronie's rule"
    elif (len(fields) == 5 and not fixed_time and has_dst_change(zone, start, times)
          and times[-1] - start.timestamp() <= 60 * 86400):
        end = datetime.fromtimestamp(times[-1], timezone.utc)
        scan = clock_scan(cronsim.CronSim(expr, start), zone, start, end, len(times))
        if scan != times:
            out["spec_differs"] = f"cronsim differs from a minute-by-minute wall-clock scan across daylight saving (scan: {scan})"
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent
                                          / "Tests/CrescentCoreTests/Fixtures/cron-table.json"))
    args = ap.parse_args()
    rng = random.Random(args.seed)

    rows = []
    for expr, zone, start in FIXED:
        r = row(expr, zone, start)
        if r:
            rows.append(r)
    skipped = 0
    seen = set()
    while len(rows) < args.count + len(FIXED):
        expr = expression(rng)
        if expr in seen:
            continue
        seen.add(expr)
        zone = rng.choice(ZONES)
        start = rng.choice(STARTS)
        try:
            r = row(expr, zone, start)
        except cronsim.CronSimError:
            skipped += 1  # e.g. a day-of-month no chosen month has
            continue
        if r is None:
            skipped += 1
            continue
        rows.append(r)

    doc = {
        "generator": "scripts/gen-cron-table.py",
        "reference": f"cronsim {metadata.version('cronsim')}",
        "seed": args.seed,
        "rows": rows,
    }
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    differs = sum(1 for r in rows if "spec_differs" in r)
    print(f"wrote {len(rows)} rows ({differs} annotated spec_differs, {skipped} expressions rejected by cronsim) to {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
