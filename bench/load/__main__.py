"""`make load` / `python -m bench.load`: locust, headless and bounded, against a running
`make run-prod`, beside a hello-world gunicorn app measured in the same run.

Loopback only: the platform URL must be on 127.0.0.0/8 (the runner refuses anything else).
Three runs of --time each with --users users: hello world, checkouts, webhooks; then it waits
(at most 120 s) for the webhook workers to drain what was delivered and reports how fast they
applied it. Start run-prod with the per-client limits raised (docs/performance.md says why):
RATE_LIMIT_CHECKOUT, RATE_LIMIT_SIGNUP and RATE_LIMIT_WEBHOOK=1000000/60.
"""
from __future__ import annotations

import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
RUNS = (("hello world (gunicorn, same workers)", "HelloUser", "hello"),
        ("checkout (add, place order, start hosted payment)", "CheckoutUser", "platform"),
        ("webhooks (signed sandbox events)", "WebhookUser", "platform"))


def main(argv: list[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=f"http://127.0.0.1:{env.get('PORT', '5000')}")
    parser.add_argument("--instance", default=env.get("HOLDFAST_INSTANCE", "instance"))
    parser.add_argument("--database-url", default=(
        f"postgresql://postgres@127.0.0.1:{env.get('PG_PORT', '5433')}/holdfast"))
    parser.add_argument("--redis-port", type=int, default=int(env.get("REDIS_PORT", 6380)))
    parser.add_argument("--hello-port", type=int, default=int(env.get("HELLO_PORT", 5003)))
    parser.add_argument("--web-workers", type=int, default=2 * os.cpu_count() + 1)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--time", default="30s")
    args = parser.parse_args(argv)
    if not (urlsplit(args.host).hostname or "").startswith("127."):
        parser.error("load tests run on loopback only (127.0.0.0/8)")
    secrets_env = read_env(Path(args.instance) / "production.env")
    child_env = {**env, **{k: env.get(k) or v for k, v in secrets_env.items()}}
    import psycopg

    with psycopg.connect(args.database_url, autocommit=True) as conn:
        # The demo stock (tens) would run out in seconds: the load item gets a deep one.
        item_id = conn.execute("SELECT id FROM items WHERE currency = 'EUR' AND active "
                               "ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE items SET stock = 1000000000 WHERE id = %s", (item_id,))
        child_env["LOAD_ITEM_ID"] = str(item_id)
        print(f"Holdfast load test, {datetime.now(UTC):%Y-%m-%d %H:%M UTC}, {os.cpu_count()} "
              f"cores, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"{args.users} users, {args.time} per run, no wait between requests; "
              f"platform {args.host}, hello world on :{args.hello_port} "
              f"({args.web_workers} gunicorn workers each)\n", flush=True)
        hello = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(args.web_workers),
                                  "-b", f"127.0.0.1:{args.hello_port}", "bench.load.hello:app"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(args.hello_port)
            with tempfile.TemporaryDirectory(prefix="holdfast-load-") as out:
                for title, user, target in RUNS:
                    host = f"http://127.0.0.1:{args.hello_port}" if target == "hello" \
                        else args.host
                    ports = (urlsplit(args.database_url).port or 0, args.redis_port)
                    before, cpu = inbox_counts(conn), cpu_by_process(ports)
                    started = time.monotonic()
                    locust(user, host, args, Path(out) / user, child_env)
                    print(title)
                    print_stats(Path(out) / f"{user}_stats.csv")
                    print_cpu(cpu, cpu_by_process(ports), time.monotonic() - started)
                    if user == "WebhookUser":
                        drain(conn, before, started)
                    print(flush=True)
        finally:
            hello.terminate()
            hello.wait(timeout=15)
    return 0


def read_env(path: Path) -> dict[str, str]:
    """NAME=value lines of run-prod's generated secrets file."""
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def locust(user: str, host: str, args, prefix: Path, env: dict) -> None:
    """One headless locust run, bounded by --time (and killed if it overruns by a minute)."""
    seconds = int(args.time.rstrip("s")) if args.time.endswith("s") else 60
    subprocess.run([sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), user,
                    "--headless", "--only-summary", "-u", str(args.users),
                    "-r", str(args.users), "-t", args.time, "--stop-timeout", "5",
                    "--host", host, "--csv", str(prefix), "--loglevel", "WARNING"],
                   env=env, check=False, timeout=seconds + 60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def print_stats(path: Path) -> None:
    """Per request name: count, rate, p50/p95/p99 and error rate (locust's own CSV)."""
    with path.open() as f:
        for row in csv.DictReader(f):
            count, failures = int(row["Request Count"]), int(row["Failure Count"])
            name = row["Name"] if row["Name"] != "Aggregated" else "all requests"
            print(f"  {name:<26} {count:>7,} req {float(row['Requests/s']):>8.1f}/s   "
                  f"p50 {row['50%']:>5} ms  p95 {row['95%']:>5} ms  p99 {row['99%']:>5} ms  "
                  f"errors {100 * failures / max(count, 1):.2f} %")


# What each process is, by its command line: the first match names it.
PROCESS_KINDS = (("hello world", "bench.load.hello"), ("platform web", "gunicorn"),
                 ("locust", "locust"), ("rq workers", " worker"), ("sandbox PSPs", "sandbox_psp"),
                 ("postgresql", "postgres"), ("redis", "redis-server"))


def cpu_by_process(ports: tuple[int, int] = (0, 0)) -> dict[str, float]:
    """CPU seconds used so far per kind of process (Linux /proc). Only ours are named: what
    descends from run-prod, from its PostgreSQL (by port) or Redis (by port), or from this
    runner; anything else on this shared machine counts as "other"."""
    ticks = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        procs[int(entry.name)] = (int(fields[1]), cmdline,
                                  (int(fields[11]) + int(fields[12])) / ticks)
    pg_port, redis_port = ports
    roots = {pid for pid, (_, cmd, _) in procs.items()
             if "deploy/run-prod.sh" in cmd or (pg_port and "postgres" in cmd
                                                and f"-p {pg_port}" in cmd)
             or (redis_port and "redis-server" in cmd and f":{redis_port}" in cmd)}
    roots.add(os.getpid())
    totals: dict[str, float] = {}
    for pid, (ppid, cmdline, cpu) in procs.items():
        ours, seen = pid in roots, 0
        while not ours and ppid > 1 and seen < 20:
            ours, ppid, seen = ppid in roots, procs.get(ppid, (0,))[0], seen + 1
        kind = next((k for k, needle in PROCESS_KINDS if needle in cmdline), "other") \
            if ours else "other"
        totals[kind] = totals.get(kind, 0.0) + cpu
    return totals


def print_cpu(before: dict[str, float], after: dict[str, float], seconds: float) -> None:
    """Where the CPU went during a run, in cores (2.0 = both cores of this machine)."""
    used = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    busy = sorted(((v / seconds, k) for k, v in used.items() if v > 0.05 * seconds), reverse=True)
    print("  CPU (cores): " + ", ".join(f"{k} {v:.2f}" for v, k in busy)
          + "   (\"other\" is everything else on this shared machine)")


def inbox_counts(conn) -> tuple[int, int]:
    """(events stored, events no longer waiting) in the webhook inbox."""
    return conn.execute("SELECT count(*), count(*) FILTER (WHERE status <> 'received') "
                        "FROM webhook_events").fetchone()


def drain(conn, before: tuple[int, int], started: float) -> None:
    """How fast the webhook workers applied what the run delivered (waits up to 120 s)."""
    deadline = time.monotonic() + 120
    while True:
        stored, done = inbox_counts(conn)
        if done >= stored or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    applied, elapsed = done - before[1], time.monotonic() - started
    print(f"  worker drain: {applied:,} of {stored - before[0]:,} events applied "
          f"{elapsed:.0f} s after the run began: {applied / elapsed:.1f} events/s")


if __name__ == "__main__":
    sys.exit(main())
