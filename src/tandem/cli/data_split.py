"""``tandem data split nlu``: a stratified training/test split of the NLU examples."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TRAINING_FILE = "training_data.yml"
TEST_FILE = "test_data.yml"


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "-u", "--nlu", default="data", help="NLU file or folder to split (default: data)"
    )
    parser.add_argument(
        "--training-fraction",
        type=float,
        default=0.8,
        help="share of each intent's examples for training (default: 0.8)",
    )
    parser.add_argument(
        "--random-seed", type=int, help="seed that makes the split repeatable (default: random)"
    )
    parser.add_argument(
        "--out",
        default="train_test_split",
        help="folder for the two files (default: train_test_split)",
    )


def run(args: argparse.Namespace) -> int:
    from tandem.project.data_files import load_training_data
    from tandem.project.errors import ProjectError
    from tandem.project.nlu_split import responses_for, split_nlu
    from tandem.project.yaml_writer import nlu_yaml

    if not 0 < args.training_fraction < 1:
        print("--training-fraction must be between 0 and 1", file=sys.stderr)
        return 1
    try:
        data, _ = load_training_data([args.nlu])
    except ProjectError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    if not data.nlu.examples:
        print(f"{args.nlu}: no NLU examples to split", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = split_nlu(data.nlu, args.training_fraction, args.random_seed)
    for name, part in zip((TRAINING_FILE, TEST_FILE), parts, strict=True):
        responses = responses_for(part.examples, data.responses)
        (out / name).write_text(nlu_yaml(part, responses), encoding="utf-8")
        print(f"{len(part.examples)} examples written to {out / name}")
    return 0
