"""``tandem data convert nlu|core``: Rasa 2 Markdown training data to Rasa 3 YAML.

Each Markdown file becomes a YAML file of the same name (``.yml``) in ``--out``, in the
same sub-folder it had under ``--data``. Given a folder, the ``.md`` files of the kind
asked for are converted (NLU files have ``## intent:`` sections, story files begin their
stories with a user step); other ``.md`` files there (a README) are left alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "-f", "--format", choices=["yaml"], default="yaml", help="output format (default: yaml)"
    )
    parser.add_argument(
        "--data", default="data", help="Markdown file or folder to convert (default: data)"
    )
    parser.add_argument("--out", required=True, help="folder for the converted files")
    parser.set_defaults(convert_nlu=verb.endswith("nlu"))


def run(args: argparse.Namespace) -> int:
    from tandem.project.errors import Problem, gather
    from tandem.project.markdown import read_markdown_nlu, read_markdown_stories
    from tandem.project.yaml_writer import nlu_yaml, stories_yaml

    data = Path(args.data)
    files = _markdown_files(data, args.convert_nlu)
    if not files:
        kind = "NLU" if args.convert_nlu else "story"
        print(f"{data}: no Markdown {kind} files found", file=sys.stderr)
        return 1
    problems: list[Problem] = []
    converted = 0
    for file in files:
        errors = len(problems)
        with gather(problems):
            if args.convert_nlu:
                training = read_markdown_nlu(file, problems)
                text = nlu_yaml(training.nlu)
            else:
                text = stories_yaml(read_markdown_stories(file, problems).stories)
            target = Path(args.out) / _relative(file, data).with_suffix(".yml")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"{file} -> {target}")
            converted += 1
        for problem in problems[errors:]:
            print(problem, file=sys.stderr)
    failed = len(files) - converted
    if failed:
        print(f"{failed} file(s) not converted; fix the problems above.", file=sys.stderr)
    return 1 if failed else 0


def _markdown_files(data: Path, nlu: bool) -> list[Path]:
    from tandem.project.markdown import is_markdown_nlu, is_markdown_stories

    if not data.is_dir():
        return [data]
    of_the_kind = is_markdown_nlu if nlu else is_markdown_stories
    return [
        path
        for path in sorted(data.rglob("*.md"))
        if of_the_kind(path.read_text(encoding="utf-8", errors="replace"))
    ]


def _relative(file: Path, data: Path) -> Path:
    return file.relative_to(data) if data.is_dir() else Path(file.name)
