"""The dialogue stack's JSON-Patch shortcuts agree with the jsonpatch library."""

from __future__ import annotations

import json
import random
from typing import Any

import jsonpatch
import pytest

from tandem.conversation.json_patch import apply_patch, copy_json, make_patch


def frame(rng: random.Random, index: int) -> dict[str, Any]:
    return {
        "frame_id": f"F{index}{rng.randrange(10**6)}",
        "flow_id": rng.choice(["order_pizza", "pattern_collect_information", "check"]),
        "step_id": rng.choice(["START", "ask", "1_collect", "END"]),
        "frame_type": rng.choice(["regular", "interrupt"]),
        "type": "flow",
        "rejections": [],
        "utter": None,
        "ask_confirm": rng.choice([True, False]),
    }


def changed(rng: random.Random, frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    after = copy_json(frames)
    kind = rng.choice(["push", "pop", "field", "field", "middle", "two_fields", "type", "list"])
    if kind == "push" or not after:
        after.append(frame(rng, len(after)))
    elif kind == "pop":
        after.pop()
    elif kind == "middle":
        del after[rng.randrange(len(after))]
    else:
        target = rng.choice(after)
        if kind == "field":
            target["step_id"] = rng.choice(["ask", "2_collect", "END", "validate_{{context}}"])
        elif kind == "two_fields":
            target["step_id"], target["utter"] = "x", "utter_x"
        elif kind == "type":
            target["ask_confirm"] = 1 if target["ask_confirm"] is True else True
        else:
            target["rejections"] = [{"if": "slots.x", "utter": "no"}]
    return after


@pytest.mark.parametrize("seed", range(40))
def test_patches_match_the_library_and_apply(seed: int) -> None:
    rng = random.Random(seed)
    frames: list[dict[str, Any]] = [frame(rng, 0)]
    for _ in range(30):
        after = changed(rng, frames)
        if after == frames and json.dumps(after) == json.dumps(frames):
            continue
        patch = make_patch(frames, after)
        assert patch == jsonpatch.make_patch(frames, after).patch
        text = json.dumps(patch)
        before = copy_json(frames)
        applied = apply_patch(frames, text)
        assert json.dumps(applied) == json.dumps(after)
        assert applied == jsonpatch.apply_patch(frames, json.loads(text))
        assert frames == before  # the document given is left as it was
        frames = applied


def test_apply_copies_only_what_it_changes() -> None:
    frames = [{"step_id": "a", "nested": {"x": 1}}, {"step_id": "b"}]
    applied = apply_patch(frames, '[{"op": "replace", "path": "/1/step_id", "value": "c"}]')
    assert applied == [{"step_id": "a", "nested": {"x": 1}}, {"step_id": "c"}]
    assert frames[1] == {"step_id": "b"}
    assert applied[0] is frames[0]


@pytest.mark.parametrize(
    "patch",
    [
        '[{"op": "remove", "path": "/3"}]',
        '[{"op": "replace", "path": "/0/missing", "value": 1}]',
        '[{"op": "add", "path": "/5", "value": {}}]',
        '[{"op": "test", "path": "/0/step_id", "value": "other"}]',
    ],
)
def test_patches_that_do_not_apply_fail_as_the_library_says(patch: str) -> None:
    frames = [{"step_id": "a"}]
    with pytest.raises(jsonpatch.JsonPatchException):
        apply_patch(frames, patch)
    assert frames == [{"step_id": "a"}]


def test_other_operations_are_left_to_the_library() -> None:
    frames = [{"a": 1}, {"b": 2}]
    patch = '[{"op": "move", "from": "/0", "path": "/1"}, {"op": "add", "path": "/-", "value": 3}]'
    assert apply_patch(frames, patch) == jsonpatch.apply_patch(frames, json.loads(patch))
    nested = [{"a": {"b": 1}}]
    deep = '[{"op": "replace", "path": "/0/a/b", "value": 2}]'
    assert apply_patch(nested, deep) == [{"a": {"b": 2}}]
    assert nested == [{"a": {"b": 1}}]


def test_copy_json_is_deep() -> None:
    original = {"a": [1, {"b": (1, 2)}], "c": None}
    copied = copy_json(original)
    assert copied == original
    assert copied["a"] is not original["a"] and copied["a"][1] is not original["a"][1]


def test_applying_the_same_patch_twice_gives_independent_documents() -> None:
    patch = '[{"op": "add", "path": "/0", "value": {"step_id": "a", "rejections": []}}]'
    first, second = apply_patch([], patch), apply_patch([], patch)
    first[0]["rejections"].append("changed")
    first[0]["step_id"] = "b"
    assert second == [{"step_id": "a", "rejections": []}]


@pytest.mark.parametrize("frames", [[{"step_id": "a"}], [{"step_id": "a"}, {"step_id": "b"}]])
@pytest.mark.parametrize("target", ["c", "b", "a"])
def test_moving_the_top_frame_writes_the_patch_a_diff_would(
    frames: list[dict[str, Any]], target: str
) -> None:
    from tandem.conversation.stack import DialogueStack

    stack = DialogueStack(frames)
    before = stack.snapshot()
    events = stack.move_top(target)
    assert stack.frames[-1]["step_id"] == target
    diffed = DialogueStack(before)
    diffed.frames[-1]["step_id"] = target
    assert [e.update for e in events] == [e.update for e in diffed.events_since(before)]  # type: ignore[attr-defined]
