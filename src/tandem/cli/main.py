"""The ``tandem`` command line: one sub-command per verb, flags mirroring the reference's."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from tandem import __version__

# verb path -> (module, help); modules expose ``add_arguments(parser, verb)`` and ``run(args)``.
_COMMANDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("init",): ("tandem.cli.init", "create a starter assistant"),
    ("train",): ("tandem.cli.train", "train a model from the project files"),
    ("train", "nlu"): ("tandem.cli.train", "train only the NLU pipeline"),
    ("shell",): ("tandem.cli.shell", "chat with the assistant in the terminal"),
    ("interactive",): (
        "tandem.cli.interactive",
        "learn a story by correcting the bot in the terminal",
    ),
    ("run",): ("tandem.cli.run", "serve the assistant: channels and, with --enable-api, the API"),
    ("inspect",): (
        "tandem.cli.inspect",
        "chat in the browser beside a live view of the conversation (stack, slots, routing)",
    ),
    ("data", "validate"): ("tandem.cli.data", "check the project files for problems"),
    ("data", "split", "nlu"): ("tandem.cli.data_split", "split NLU data into training and test"),
    ("data", "convert", "nlu"): (
        "tandem.cli.data_convert",
        "convert Rasa 2 Markdown NLU data to YAML",
    ),
    ("data", "convert", "core"): (
        "tandem.cli.data_convert",
        "convert Rasa 2 Markdown stories to YAML",
    ),
    ("visualize",): ("tandem.cli.visualize", "draw the stories and flows in an HTML file"),
    ("test", "e2e"): ("tandem.cli.test_e2e", "run end-to-end test cases against a model"),
    ("test", "core"): ("tandem.cli.test_core", "replay test stories against the dialogue policies"),
    ("test", "nlu"): ("tandem.cli.test_nlu", "evaluate the NLU model on labelled examples"),
}


def build_parser() -> argparse.ArgumentParser:
    """The full parser. Command modules import only argparse at the top, so this is cheap."""
    parser = argparse.ArgumentParser(prog="tandem", description="Tandem conversational assistants")
    parser.add_argument("--version", action="version", version=f"tandem {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    # Every command takes ``-v`` too (``tandem shell -v``). Suppressed when absent, so that a
    # command's default does not overwrite the ``-v`` given before the verb.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log more"
    )
    parsers: dict[tuple[str, ...], argparse.ArgumentParser] = {(): parser}
    groups: dict[tuple[str, ...], argparse._SubParsersAction] = {}
    for path, (module_name, help_text) in _COMMANDS.items():
        for depth in range(1, len(path)):  # group verbs like ``data`` have no command of their own
            group = path[:depth]
            if group not in parsers:
                parsers[group] = _group(groups, parsers, group)
        parent = path[:-1]
        if parent not in groups:
            groups[parent] = parsers[parent].add_subparsers(metavar="COMMAND")
        sub = groups[parent].add_parser(
            path[-1], help=help_text, description=help_text, parents=[common]
        )
        module = importlib.import_module(module_name)
        module.add_arguments(sub, " ".join(path))
        sub.set_defaults(_run=module.run, _verb=" ".join(path))
        parsers[path] = sub
    return parser


def _group(
    groups: dict[tuple[str, ...], argparse._SubParsersAction],
    parsers: dict[tuple[str, ...], argparse.ArgumentParser],
    path: tuple[str, ...],
) -> argparse.ArgumentParser:
    parent = path[:-1]
    if parent not in groups:
        groups[parent] = parsers[parent].add_subparsers(metavar="COMMAND")
    return groups[parent].add_parser(path[-1], help=f"{path[-1]} commands")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else os.environ.get("LOG_LEVEL", "WARNING").upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
