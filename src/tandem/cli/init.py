"""``tandem init [PATH]``: write the starter assistant into a folder."""

from __future__ import annotations

import argparse
import shutil
from importlib import resources
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "path", nargs="?", default=".", help="folder to create the project in (default: .)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite files that already exist")


def run(args: argparse.Namespace) -> int:
    target = Path(args.path)
    starter = resources.files("tandem.cli") / "starter"
    with resources.as_file(starter) as source:
        files = [
            p
            for p in sorted(Path(source).rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        ]
        clashes = [
            p.relative_to(source) for p in files if (target / p.relative_to(source)).exists()
        ]
        if clashes and not args.force:
            print(
                f"{target} already has {', '.join(map(str, clashes[:3]))}; use --force to overwrite"
            )
            return 1
        for path in files:
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
    print(f"Created a starter assistant in {target.resolve()}.")
    print("Next: cd into it, run `tandem train`, then `tandem shell` to chat with it.")
    return 0
