"""`python -m sandbox_psp`: prints its URL, serves, and stops cleanly on SIGTERM and Ctrl-C."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_runs_and_stops_cleanly(tmp_path, stop_signal):
    env = {**os.environ, "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path}/psp.db",
           "SANDBOX_API_KEYS": "sk_test_cli", "PYTHONPATH": str(ROOT)}
    # As a context manager, Popen closes its pipes and waits for the process at the end.
    command = [sys.executable, "-m", "sandbox_psp", "--host", "127.0.0.1", "--port", "0"]
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        try:
            line = process.stdout.readline()
            assert line.startswith("Sandbox PSP running on http://127.0.0.1:")
            url = line.split()[4]
            response = requests.post(f"{url}/v1/payment_sessions", timeout=5,
                                     headers={"Authorization": "Bearer sk_test_cli"},
                                     json={"amount": 500, "currency": "eur", "mode": "hosted",
                                           "return_url": "http://127.0.0.1:5000/r"})
            assert response.status_code == 200
            assert response.json()["url"] == f"{url}/pay/{response.json()['id']}"
            process.send_signal(stop_signal)
            assert process.wait(timeout=15) == 0
            assert "stopped" in process.stdout.read()
        finally:
            if process.poll() is None:
                process.kill()
