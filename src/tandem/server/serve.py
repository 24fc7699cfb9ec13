"""Running one server process: load the model, bind the port, serve until told to stop."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from tandem.project.endpoints import load_endpoints

log = logging.getLogger(__name__)

# Lock stores that serialise a conversation across processes.
_SHARED_LOCK_STORES = frozenset({"redis", "concurrent_redis"})


class ServeError(Exception):
    pass


def check_workers(requested: int, endpoints_path: str) -> int:
    """The number of workers to start. Several workers share conversations only through a
    lock store all of them see; with the in-memory one a conversation's messages could be
    handled by two workers at once, so that combination is refused rather than run."""
    if requested < 1:
        raise ServeError("--workers must be at least 1")
    if requested == 1:
        return 1
    lock_store = load_endpoints(endpoints_path).lock_store
    kind = (lock_store.type or "in_memory").lower() if lock_store else "in_memory"
    if kind not in _SHARED_LOCK_STORES and "." not in kind:
        raise ServeError(
            f"--workers {requested} needs a lock store shared by the workers "
            "(`lock_store: {type: redis}` in endpoints.yml); the in-memory lock store "
            "only serialises conversations within one process"
        )
    return requested


class _AccessLogger(AbstractAccessLogger):
    """Method, path, status and time: never the query string, which may carry ``?token=``."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.4fs", request.method, request.path, response.status, time)


def serve(args: argparse.Namespace, *, reuse_port: bool) -> int:
    return asyncio.run(_serve(args, reuse_port))


async def _serve(args: argparse.Namespace, reuse_port: bool) -> int:
    app = await _build_app(args)
    if app is None:
        return 1
    runner = web.AppRunner(
        app,
        handle_signals=False,
        shutdown_timeout=args.graceful_timeout,
        access_log_class=_AccessLogger,
    )
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, reuse_port=reuse_port or None)
    try:
        await site.start()
    except OSError as error:
        print(f"Cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        await runner.cleanup()
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"Tandem server is up and running on http://{args.host}:{args.port}", flush=True)
    if getattr(args, "inspect", False):
        print(f"Inspect the conversations at http://{args.host}:{args.port}/inspect", flush=True)
    await stop.wait()
    # Stop accepting, let in-flight requests finish, then close the processor (stores, locks).
    await runner.cleanup()
    return 0


async def _build_app(args: argparse.Namespace) -> web.Application | None:
    from tandem.model.archive import ArchiveError, newest_archive
    from tandem.model.loading import open_processor
    from tandem.project.endpoints import load_credentials
    from tandem.project.errors import ProjectError
    from tandem.runtime.processor import MessageProcessor
    from tandem.server.app import create_app
    from tandem.stores.factory import StoreConfigError

    endpoints = Path(args.endpoints)

    async def loader(path: Path) -> MessageProcessor:
        processor = await open_processor(path, endpoints)
        # The model's objects live as long as the server: moving them out of the garbage
        # collector's generations spares every later full collection from walking them
        # (measured: a ~60 ms stall every few hundred turns without it).
        gc.freeze()
        return processor

    try:
        credentials = load_credentials(args.credentials)
        archive = newest_archive(Path(args.model))
        processor = await loader(archive) if archive is not None else None
    except (ArchiveError, ProjectError, StoreConfigError, OSError) as error:
        print(f"Cannot start the server: {error}", file=sys.stderr)
        return None
    if processor is None:
        if not args.enable_api:
            print(
                f"No model archive found at {args.model}; run `tandem train` first.",
                file=sys.stderr,
            )
            return None
        log.warning("no model at %s; load one with PUT /model", args.model)
    try:
        return create_app(
            processor,
            enable_api=args.enable_api,
            auth_token=args.auth_token,
            jwt_secret=args.jwt_secret,
            jwt_method=args.jwt_method,
            cors=args.cors,
            credentials=credentials,
            connector=args.connector,
            max_body_bytes=args.max_request_size,
            model_file=archive.name if archive is not None else None,
            model_loader=loader,
            shutdown_timeout=args.graceful_timeout,
            inspect=getattr(args, "inspect", False),
        )
    except ValueError as error:  # an unknown --connector or JWT method
        print(f"Cannot start the server: {error}", file=sys.stderr)
        return None
