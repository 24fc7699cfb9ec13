"""``tandem run``: serve the assistant over HTTP (channels, and the API with ``--enable-api``).

Flags mirror the reference's ``rasa run``. ``--workers N`` forks N processes that each load
the model and bind the same port (SO_REUSEPORT: the kernel spreads connections over them);
they share conversations through the tracker and lock stores, so more than one worker needs
a lock store that works across processes (Redis). SIGTERM or SIGINT shut down gracefully:
stop accepting, let in-flight turns finish (bounded by ``--graceful-timeout``), then close
the stores and release the locks.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys

DEFAULT_PORT = 5005
DEFAULT_GRACEFUL_TIMEOUT = 30.0
DEFAULT_MAX_REQUEST_SIZE = 10 * 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "-m", "--model", default="models", help="model archive or folder of archives"
    )
    parser.add_argument("--endpoints", default="endpoints.yml", help="endpoints file")
    parser.add_argument("--credentials", default="credentials.yml", help="channels to open")
    parser.add_argument("--connector", default=None, help="open only this channel")
    parser.add_argument(
        "-i", "--interface", "--host", dest="host", default="0.0.0.0", help="address to bind"
    )
    parser.add_argument("-p", "--port", type=int, default=DEFAULT_PORT, help="port to bind")
    parser.add_argument("--enable-api", action="store_true", help="serve the HTTP API")
    if verb == "run":  # ``tandem inspect`` always has it
        parser.add_argument(
            "--inspect", action="store_true", help="serve the inspector's page at /inspect"
        )
    parser.add_argument("-t", "--auth-token", default=None, help="API token (?token=...)")
    parser.add_argument("--jwt-secret", default=None, help="secret or public key for JWTs")
    parser.add_argument("--jwt-method", default="HS256", help="JWT algorithm (default HS256)")
    parser.add_argument("--cors", nargs="*", default=[], help="allowed CORS origins ('*' for all)")
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("SANIC_WORKERS", "1") or 1),
        help="worker processes sharing the port (default: $SANIC_WORKERS or 1)",
    )
    parser.add_argument(
        "--max-request-size",
        type=int,
        default=DEFAULT_MAX_REQUEST_SIZE,
        help="largest request body in bytes (larger ones get 413)",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=float,
        default=DEFAULT_GRACEFUL_TIMEOUT,
        help="seconds shutdown waits for in-flight turns",
    )


def run(args: argparse.Namespace) -> int:
    from tandem.server.serve import ServeError, check_workers, serve

    try:
        workers = check_workers(args.workers, args.endpoints)
    except ServeError as error:
        print(error, file=sys.stderr)
        return 1
    if workers == 1:
        return serve(args, reuse_port=False)
    return _run_workers(args, workers)


def _run_workers(args: argparse.Namespace, count: int) -> int:
    """Fork the workers before any event loop exists, forward stop signals, wait for all."""
    from tandem.server.serve import serve

    children: list[int] = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                code = serve(args, reuse_port=True)
            finally:
                os._exit(code)
        children.append(pid)
    stopping = False

    def forward(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    remaining = set(children)
    while remaining:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        remaining.discard(pid)
        exit_code = os.waitstatus_to_exitcode(code)
        if exit_code != 0 and not stopping:
            print(f"worker {pid} stopped with exit code {exit_code}", file=sys.stderr)
            status = 1
            forward(signal.SIGTERM, None)  # one worker down: stop the others
    return status
