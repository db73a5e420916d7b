#!/usr/bin/env python3
"""One no-op drain of a PostgreSQL-backed Python job queue, for benchmarks/compare-postgres.sh.

    peer-drain.py SYSTEM --database URL [--jobs N] [--processes 2] [...]

SYSTEM is `pgqueuer` or `procrastinate`. The run:
1. creates a fresh database (peer_<system>_<random>) on the server of URL and installs the
   system's schema there with its own API;
2. enqueues N no-op jobs (PGQueuer: one bulk `Queries.enqueue`; Procrastinate:
   `batch_defer_async` in chunks), before any worker runs;
3. starts the worker processes; each imports the library, connects, and says it is ready;
4. releases them together and times the drain: from the release until this process sees no
   job left to run (polled every 5 ms on its own connection), and, separately, until every
   worker has exited;
5. drops the database.

It prints one line: `drain: RATE jobs/s (SECONDS s; SECONDS s until the workers exited)`.
The workers' interpreter start-up, imports and connections are not timed (Crescent's figure
includes its runner's start-up), so the comparison leans towards the peers.

Settings: PGQueuer's own benchmark drain uses the asyncpg driver under uvloop, 5 dequeue
tasks per process, each with its own connection and a batch size of 10; those are the
defaults here (`--dequeue`, `--batch-size`), in each of `--processes` processes.
Procrastinate runs `run_worker_async(wait=False)` (the worker exits once the queue is
empty) with `--concurrency` (default 10) in each process, on its psycopg connector with a
pool of that many connections plus two.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

ENTRYPOINT = "noop"


def database_url(url: str, name: str) -> str:
    """URL with its database (path) replaced by `name` and any query options dropped."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


async def admin(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn=database_url(url, urlsplit(url).path.lstrip("/") or "postgres"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


# PGQueuer ------------------------------------------------------------------------------------

async def pgqueuer_prepare(url: str, jobs: int) -> None:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    connection = await asyncpg.connect(dsn=url)
    try:
        queries = Queries(AsyncpgDriver(connection))
        await queries.install()
        await queries.enqueue([ENTRYPOINT] * jobs, [b"" for _ in range(jobs)], [0] * jobs)
    finally:
        await connection.close()


async def pgqueuer_worker(url: str, options: argparse.Namespace) -> None:
    import asyncpg
    from pgqueuer import PgQueuer, types
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.models import Job

    consumers = []
    for _ in range(options.dequeue):
        pgq = PgQueuer(AsyncpgDriver(await asyncpg.connect(dsn=url)))

        @pgq.entrypoint(ENTRYPOINT)
        async def noop(job: Job) -> None:
            return None

        consumers.append(pgq)
    await ready_then_wait()
    await asyncio.gather(*(pgq.run(batch_size=options.batch_size, mode=types.QueueExecutionMode.drain)
                           for pgq in consumers))


async def pgqueuer_remaining(connection) -> int:
    return await connection.fetchval("SELECT count(*) FROM pgqueuer")


# Procrastinate -------------------------------------------------------------------------------

def procrastinate_app(url: str, concurrency: int = 1):
    import logging

    import procrastinate

    # It warns that the app lives in the __main__ module: true here, and harmless (one file).
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)

    # A connection per concurrent job (and the worker's own), as Procrastinate advises.
    connector = procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=concurrency + 2)
    app = procrastinate.App(connector=connector)

    @app.task(name=ENTRYPOINT)
    async def noop() -> None:
        return None

    return app, noop


async def procrastinate_prepare(url: str, jobs: int) -> None:
    app, noop = procrastinate_app(url)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        chunk = 1000
        for start in range(0, jobs, chunk):
            await noop.batch_defer_async(*({} for _ in range(min(chunk, jobs - start))))


async def procrastinate_worker(url: str, options: argparse.Namespace) -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)
    app, _ = procrastinate_app(url, options.concurrency)
    async with app.open_async():
        await ready_then_wait()
        await app.run_worker_async(concurrency=options.concurrency, wait=False, install_signal_handlers=False)


async def procrastinate_remaining(connection) -> int:
    return await connection.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")


SYSTEMS = {
    "pgqueuer": (pgqueuer_prepare, pgqueuer_worker, pgqueuer_remaining),
    "procrastinate": (procrastinate_prepare, procrastinate_worker, procrastinate_remaining),
}


async def ready_then_wait() -> None:
    """Tells the parent this worker is ready, then waits for its go (a line on stdin)."""
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


# The parent ----------------------------------------------------------------------------------

async def drain(options: argparse.Namespace) -> int:
    import asyncpg

    prepare, _, remaining = SYSTEMS[options.system]
    name = f"peer_{options.system}_{secrets.token_hex(5)}"
    try:
        await admin(options.database, f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as error:
        print(f"peer-drain: cannot create the database {name} (the URL's user needs CREATEDB): {error}", file=sys.stderr)
        return 1
    url = database_url(options.database, name)
    workers: list[subprocess.Popen] = []
    try:
        await prepare(url, options.jobs)
        watcher = await asyncpg.connect(dsn=url)
        queued = await remaining(watcher)
        if queued != options.jobs:
            print(f"peer-drain: {queued} jobs queued instead of {options.jobs}", file=sys.stderr)
            return 1
        environment = dict(os.environ, PEER_DRAIN_URL=url)
        for _ in range(options.processes):
            workers.append(subprocess.Popen(
                [sys.executable, __file__, options.system, "--worker", "--database", options.database,
                 "--dequeue", str(options.dequeue), "--batch-size", str(options.batch_size),
                 "--concurrency", str(options.concurrency)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment, text=True))
        for worker in workers:
            if worker.stdout.readline().strip() != "ready":
                print("peer-drain: a worker did not start", file=sys.stderr)
                return 1
        start = time.monotonic()
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        deadline = start + options.timeout
        left = queued
        while left > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
            left = await remaining(watcher)
            if left > 0 and all(worker.poll() is not None for worker in workers):
                left = await remaining(watcher)
                break
        drained = time.monotonic() - start
        for worker in workers:
            try:
                worker.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        exited = time.monotonic() - start
        await watcher.close()
        if left > 0:
            print(f"peer-drain: {options.system} left {left} of {queued} jobs undone", file=sys.stderr)
            return 1
        failed = [worker.returncode for worker in workers if worker.returncode != 0]
        if failed:
            print(f"peer-drain: {options.system} workers exited with {failed}", file=sys.stderr)
            return 1
        print(f"drain: {options.jobs / drained:.0f} jobs/s ({drained:.3f} s; {exited:.3f} s until the workers exited)")
        return 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        await admin(options.database, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description="One no-op drain of a PostgreSQL job queue.")
    parser.add_argument("system", choices=sorted(SYSTEMS))
    parser.add_argument("--database", required=True, help="postgres:// URL of a database to create the run's own in")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--dequeue", type=int, default=5, help="PGQueuer: dequeue tasks per process (default 5)")
    parser.add_argument("--batch-size", type=int, default=10, help="PGQueuer: dequeue batch size (default 10)")
    parser.add_argument("--concurrency", type=int, default=10, help="Procrastinate: worker concurrency (default 10)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before giving up (default 600)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.jobs < 1 or options.processes < 1 or options.dequeue < 1 or options.batch_size < 1 or options.concurrency < 1:
        parser.error("--jobs, --processes, --dequeue, --batch-size and --concurrency must be at least 1")
    if not urlsplit(options.database).scheme.startswith("postgres"):
        parser.error("--database must be a postgres:// URL")
    if options.worker:
        run = SYSTEMS[options.system][1](os.environ["PEER_DRAIN_URL"], options)
        if options.system == "pgqueuer":  # as PGQueuer's own benchmark runs
            import uvloop

            uvloop.run(run)
        else:
            asyncio.run(run)
        return 0
    return asyncio.run(drain(options))


if __name__ == "__main__":
    sys.exit(main())
