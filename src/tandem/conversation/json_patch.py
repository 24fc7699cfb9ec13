"""JSON-Patch for the dialogue stack, fast for the changes flows make on every step.

The stack is a list of frames (flat JSON objects), and a step changes it in one of three
ways: a frame is pushed, the top frame is popped, or one field of one frame (mostly its
``step_id``) is replaced. ``make_patch`` writes those patches directly, exactly as
``jsonpatch.make_patch`` would, and ``apply_patch`` applies simple patches by copying only
the frames they touch; everything else is left to the ``jsonpatch`` library. A CALM turn makes
and applies dozens of these patches, and the library's general algorithms (list diffing with
move detection, a deep copy of the document per patch) were the largest cost of a turn.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

import jsonpatch

_CANONICAL = json.JSONEncoder(sort_keys=True).encode
_SCALARS = (str, int, float, bool, type(None))
# Scalars whose Python equality is JSON equality when both sides have the same type (floats
# are not: 0.0 == -0.0, but their JSON differs).
_PLAIN = frozenset({str, int, bool, type(None)})


def copy_json(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars); other values via ``copy.deepcopy``."""
    kind = type(value)
    if kind is dict:
        return {
            key: item if type(item) in _PLAIN else copy_json(item) for key, item in value.items()
        }
    if kind is list:
        return [item if type(item) in _PLAIN else copy_json(item) for item in value]
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return copy.deepcopy(value)


def make_patch(before: list[Any], after: list[Any]) -> list[dict[str, Any]]:
    """The operations turning the list ``before`` into ``after`` (as ``jsonpatch`` makes them)."""
    try:
        patch = _simple_patch(before, after)
    except (TypeError, ValueError):  # not JSON data: the library decides what to do
        patch = None
    if patch is None:
        patch = jsonpatch.make_patch(before, after).patch
    return patch


def _same(old: Any, new: Any) -> bool:
    """Equal as JSON (so 1 and True differ, as the library compares values)."""
    if old is new:
        return True
    kind = type(old)
    if kind is type(new) and kind in _PLAIN:
        return bool(old == new)
    if kind is dict and type(new) is dict:
        if old != new:  # unequal in Python: unequal as JSON too
            return False
        # Equal in Python; as JSON too unless a value changed type (True -> 1, 1 -> 1.0).
        for key, value in old.items():
            other = new[key]
            value_kind = type(value)
            if value_kind is not type(other) or (
                value_kind not in _PLAIN and _CANONICAL(value) != _CANONICAL(other)
            ):
                return False
        return True
    return bool(_CANONICAL(old) == _CANONICAL(new))


def _simple_patch(before: list[Any], after: list[Any]) -> list[dict[str, Any]] | None:
    """One push, one pop or one replaced scalar field; ``None`` for any other change."""
    old_count, new_count = len(before), len(after)
    shared = min(old_count, new_count)
    changed = [index for index in range(shared) if not _same(before[index], after[index])]
    if new_count == old_count + 1 and not changed:
        return [{"op": "add", "path": f"/{old_count}", "value": after[-1]}]
    if new_count == old_count - 1 and not changed:
        return [{"op": "remove", "path": f"/{new_count}"}]
    if new_count != old_count or len(changed) != 1:
        return None
    index = changed[0]
    old, new = before[index], after[index]
    if not (isinstance(old, dict) and isinstance(new, dict)) or old.keys() != new.keys():
        return None
    fields = [key for key in old if not _same(old[key], new[key])]
    if len(fields) != 1:
        return None
    key = fields[0]
    if (
        not isinstance(key, str)
        or "~" in key
        or "/" in key
        or not isinstance(old[key], _SCALARS)
        or not isinstance(new[key], _SCALARS)
    ):
        return None
    return [{"op": "replace", "path": f"/{index}/{key}", "value": new[key]}]


def apply_patch(document: list[Any], patch: str) -> list[Any]:
    """``document`` with the JSON-Patch ``patch`` (its JSON text) applied; ``document`` is
    not changed. Raises the ``jsonpatch`` library's errors for patches that do not apply."""
    result = _apply_simple(document, _operations(patch))
    if result is None:  # fresh operations: the library's result may hold their values
        return jsonpatch.apply_patch(document, json.loads(patch))
    return result


@lru_cache(maxsize=4096)
def _operations(patch: str) -> Any:
    """The parsed patch, shared by every application of it: read only (values are copied
    into documents). A turn applies each stack event to several trackers."""
    return json.loads(patch)


def _apply_simple(document: Any, operations: Any) -> list[Any] | None:
    """Adds, removes and replaces of list items and of their fields, copying only the items
    they change; ``None`` when any operation is of another kind or would fail (the library
    then applies the patch, or says why it cannot)."""
    if not isinstance(document, list) or not isinstance(operations, list):
        return None
    result = list(document)
    copied: set[int] = set()  # ids of the items already copied for this patch
    for operation in operations:
        if not isinstance(operation, dict):
            return None
        op, path = operation.get("op"), operation.get("path")
        if op not in ("add", "remove", "replace") or not isinstance(path, str):
            return None
        parts = path.split("/")
        if len(parts) not in (2, 3) or parts[0] != "" or "~" in path:
            return None
        if op != "remove" and "value" not in operation:
            return None
        position = parts[1]
        if len(parts) == 2:
            if op == "add" and position == "-":
                result.append(copy_json(operation["value"]))
                continue
            if not _is_index(position):
                return None
            index = int(position)
            if op == "add":
                if index > len(result):
                    return None
                result.insert(index, copy_json(operation["value"]))
            elif index >= len(result):
                return None
            elif op == "remove":
                del result[index]
            else:
                result[index] = copy_json(operation["value"])
            continue
        if not _is_index(position) or int(position) >= len(result):
            return None
        index, key = int(position), parts[2]
        item = result[index]
        if not isinstance(item, dict) or (op != "add" and key not in item):
            return None
        if id(item) not in copied:
            item = dict(item)
            result[index] = item
            copied.add(id(item))
        if op == "remove":
            del item[key]
        else:
            item[key] = copy_json(operation["value"])
    return result


def _is_index(part: str) -> bool:
    """An array index as JSON Pointer writes it: digits, no leading zero."""
    return part.isascii() and part.isdigit() and (part == "0" or part[0] != "0")
