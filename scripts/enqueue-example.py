#!/usr/bin/env python3
"""Enqueue a Crescent job from an application's own transaction (psycopg 3).

    python3 scripts/enqueue-example.py postgres://app@db/app crescent mail/welcome '{"id": 42}'

Calls `<schema>.enqueue(task, args)` twice: once in a transaction that rolls back (no job, no
wake-up) and once in one that commits (the job exists, idle runners are woken). A third
connection LISTENs on the schema's wake-up channel to show when the wake-up arrives. Prints
one line per step; exits 1 if what it sees is not what Crescent promises.
"""
import sys

import psycopg


def notifications(conn, timeout):
    """The payloads of the wake-ups that arrive within `timeout` seconds."""
    return [n.payload for n in conn.notifies(timeout=timeout, stop_after=1)]


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    url, schema, task, args = sys.argv[1:]
    channel = f"crescent_wake_{schema}"
    ok = True
    with psycopg.connect(url, autocommit=True) as listener, psycopg.connect(url) as app:
        listener.execute(f'LISTEN "{channel}"')

        # The application's transaction rolls back: the job is gone with it.
        with app.cursor() as cur:
            cur.execute(f'SELECT "{schema}".enqueue(%s, %s::jsonb)', (task, args))
            job_id = cur.fetchone()[0]
        app.rollback()
        woken = notifications(listener, 1.0)
        with app.cursor() as cur:
            cur.execute(f'SELECT count(*) FROM "{schema}".jobs WHERE id = %s', (job_id,))
            exists = cur.fetchone()[0] == 1
        app.rollback()
        print(f"rolled back: job {job_id} exists={exists} wake-ups={woken}")
        ok = ok and not exists and not woken

        # The application's transaction commits: the job exists and runners are woken.
        with app.cursor() as cur:
            cur.execute("SELECT 1")  # the application's own work would go here
            cur.execute(f'SELECT "{schema}".enqueue(%s, %s::jsonb)', (task, args))
            job_id = cur.fetchone()[0]
        app.commit()
        woken = notifications(listener, 5.0)
        with app.cursor() as cur:
            cur.execute(f'SELECT state FROM "{schema}".jobs WHERE id = %s', (job_id,))
            row = cur.fetchone()
        app.rollback()
        print(f"committed: job {job_id} state={row[0] if row else None} wake-ups={woken}")
        ok = ok and row is not None and len(woken) == 1
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
