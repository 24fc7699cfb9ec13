"""``tandem inspect``: ``tandem run`` with the inspector's page at ``/inspect``.

It takes ``run``'s flags (the inspector's data routes are behind ``--auth-token`` or
``--jwt-secret`` like the API), but binds to the loopback address unless told otherwise:
the page shows every stored conversation, which is for the developer's eyes.
"""

from __future__ import annotations

import argparse

from tandem.cli import run as run_command

DEFAULT_HOST = "127.0.0.1"


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    run_command.add_arguments(parser, verb)
    parser.set_defaults(host=DEFAULT_HOST, inspect=True)


def run(args: argparse.Namespace) -> int:
    return run_command.run(args)
