"""JiebaTokenizer: jieba's Chinese word segmentation, with the project's own dictionaries kept
in the model; and the weather_zh fixture, a Chinese project, trained and retrained by
``tandem train``."""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
from pathlib import Path

import pytest
from nlu_testkit import data, example, train

from tandem.cli.main import main
from tandem.nlu import NluError, NluPipeline
from tandem.nlu.message import Message
from tandem.nlu.pipeline import build
from tandem.project.training_data import NluData

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "projects" / "weather_zh"
PIPELINE = [
    ("JiebaTokenizer", {}),
    ("CountVectorsFeaturizer", {}),
    ("CountVectorsFeaturizer", {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}),
    ("LogisticRegressionClassifier", {}),
]


def words(text: str, **options: object) -> list[tuple[str, int, int]]:
    (tokenizer,) = build([("JiebaTokenizer", options)], language="zh")
    tokenizer.train([], NluData())  # reads the dictionaries
    message = Message(text)
    tokenizer.process(message)
    assert message.tokens is not None
    return [(t.text, t.start, t.end) for t in message.tokens]


def dictionary(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "dict"
    folder.mkdir()
    (folder / "words.txt").write_text(text, encoding="utf-8")
    return folder


def test_words_and_their_offsets_without_spaces() -> None:
    text = "我想查一下 北京的天气"
    segmented = words(text)
    assert [w for w, _, _ in segmented] == ["我想查", "一下", "北京", "的", "天气"]
    assert all(text[start:end] == word for word, start, end in segmented)


def test_the_token_pattern_applies_to_each_word() -> None:
    assert [w for w, _, _ in words("北京2024年", token_pattern=r"\d+|\D+")] == [
        "北京",
        "2024",
        "年",
    ]


def test_the_projects_dictionary_segments_and_lives_on_in_the_model(tmp_path: Path) -> None:
    text = "呼和浩特明天下雨吗"
    assert "呼和浩特明天" not in [w for w, _, _ in words(text)]
    folder = dictionary(tmp_path, "呼和浩特明天 10 n\n")
    assert words(text, dictionary_path=str(folder))[0] == ("呼和浩特明天", 0, 6)

    examples = [example("你好", "greet"), example("再见", "goodbye"), example("拜拜", "goodbye")]
    pipeline = train(
        [("JiebaTokenizer", {"dictionary_path": str(folder)}), *PIPELINE[1:]], data(examples)
    )
    pipeline.persist(tmp_path / "model")
    shutil.rmtree(folder)  # the loaded model does not read the project's files again
    loaded = NluPipeline.load(tmp_path / "model")
    (tokenizer,) = [c for c in loaded.components if c.name == "JiebaTokenizer"]
    message = Message(text)
    tokenizer.process(message)
    assert message.tokens is not None and message.tokens[0].text == "呼和浩特明天"
    assert loaded.parse("你好") == pipeline.parse("你好")


def test_a_dictionary_path_that_is_not_a_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(NluError, match=r"dictionary_path '.*missing' is not a folder"):
        words("你好", dictionary_path=str(tmp_path / "missing"))


def test_without_the_extra_the_error_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec

    def without_jieba(name: str, *args: object) -> object:
        return None if name == "jieba" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", without_jieba)
    with pytest.raises(
        NluError, match=r"needs jieba \(not installed\): pip install 'tandem\[chinese\]'"
    ):
        build([("JiebaTokenizer", {})], language="zh")


def test_a_changed_dictionary_retrains_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = Path(shutil.copytree(FIXTURE, tmp_path / "weather_zh"))
    with contextlib.chdir(project):
        assert main(["train"]) == 0
        assert main(["train"]) == 0
        assert "Nothing changed" in capsys.readouterr().out
        cities = project / "data" / "dict" / "cities.txt"
        cities.write_text(cities.read_text(encoding="utf-8") + "齐齐哈尔 10 ns\n", encoding="utf-8")
        assert main(["train"]) == 0
        assert "Nothing changed" not in capsys.readouterr().out
    assert len(list((project / "models").glob("*.tar.gz"))) == 2


def test_a_missing_dictionary_folder_is_named_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = Path(shutil.copytree(FIXTURE, tmp_path / "weather_zh"))
    shutil.rmtree(project / "data" / "dict")
    line = (project / "config.yml").read_text().splitlines().index("    dictionary_path: data/dict")
    with contextlib.chdir(project):
        assert main(["data", "validate"]) == 1
        error = "JiebaTokenizer: dictionary_path 'data/dict' is not a folder"
        assert f"config.yml:{line + 1}: error: {error}" in capsys.readouterr().out
        assert main(["train", "--skip-validation"]) == 1
        assert f"Training failed: {error}" in capsys.readouterr().err
