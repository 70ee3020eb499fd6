"""`make dev`: `python -m lumipay.devserver`.

Without DATABASE_URL it starts (or reuses) the embedded PostgreSQL cluster in
`instance/postgres/` (lumipay/embedded.py), migrates it, seeds the demo and serves the app on
127.0.0.1:5000 with jobs in-process; Ctrl-C (or SIGTERM) stops the app and then the cluster,
and the data stays for the next run (`make clean-dev` wipes it). With DATABASE_URL set, that
server is used and nothing is started.
"""

from __future__ import annotations

import argparse
import os
import signal
from types import FrameType

from lumipay import ROOT, embedded


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """`make dev`: database, migrations, demo, server; the cluster stops with the app."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", default=os.path.join(ROOT, "instance"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)

    own_cluster = not os.environ.get("DATABASE_URL", "").strip()
    # Ctrl-C and a plain `kill` both stop the app and then the cluster, even where the shell
    # started us with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if own_cluster:
            os.environ["DATABASE_URL"] = embedded.start(args.instance)
            print(f"Embedded PostgreSQL in {embedded.pgdata(args.instance)}", flush=True)
        # Jobs run in-process after commit: `make dev` runs no worker.
        os.environ.pop("REDIS_URL", None)
        os.environ.setdefault("SANDBOX_RECON_DISCREPANCIES", "true")
        os.environ.setdefault(
            "KYC_STORAGE_DIR", os.path.join(os.path.abspath(args.instance), "kyc-documents")
        )
        serve(args.host, args.port)
    except KeyboardInterrupt:
        pass
    finally:
        if own_cluster:
            embedded.stop(args.instance)
            print("Embedded PostgreSQL stopped; its data is kept.", flush=True)


def serve(host: str, port: int) -> None:
    """Migrate, seed the demo (once; later runs only print the logins) and serve."""
    from flask_migrate import upgrade

    from lumipay import create_app
    from lumipay.cli import seed_command
    from lumipay.extensions import db

    app = create_app()
    try:
        with app.app_context():
            upgrade()
            seed_command.main(args=[], standalone_mode=False)
        app.run(host=host, port=port, use_reloader=False)
    finally:
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
