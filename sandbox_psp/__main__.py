"""`python -m sandbox_psp --host 127.0.0.1 --port 5001`: the sandbox PSP and its webhook deliverer."""
import argparse
import signal

from werkzeug.serving import make_server

from . import create_app, start_deliverer


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM, then stop the deliverer and the server cleanly."""
    parser = argparse.ArgumentParser(prog="python -m sandbox_psp", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001, help="0 picks a free port")
    args = parser.parse_args(argv)

    app = create_app()
    server = make_server(args.host, args.port, app, threaded=True)
    deliverer = start_deliverer(app)

    def _terminate(_signum, _frame):
        # Leave serve_forever the same way Ctrl-C does; shutdown() from here would deadlock.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    print(f"Sandbox PSP running on http://{args.host}:{server.port} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        deliverer.stop()
        server.server_close()
        print("Sandbox PSP stopped.", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
