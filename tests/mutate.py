"""Mutations of scenario files for fuzzing ``trafficsim validate``.

Shared by the property-based test (``tests/test_fuzz.py``, which drives them with hypothesis'
``randoms()``) and the seeded fuzz run (``benchmarks/fuzz_scenarios.py``).  Every mutation takes a
:class:`random.Random`, so a failure is reproduced from its seed.

Two families:

- document mutations parse the TOML, change one node (delete a key, rename it, change the type of
  its value, replace it with a random or extreme value) and write the document back;
- byte mutations damage the file itself (truncate it, insert garbage bytes, drop or repeat a
  line), which also yields files that are not TOML or not UTF-8.
"""

from __future__ import annotations

import math
import random
import tomllib
from typing import Any

Node = Any
# A path to a node: keys of tables and indices of lists, from the document root.
Path_ = tuple[str | int, ...]


# --------------------------------------------------------------------------------------------
# A small TOML writer (the standard library only reads TOML)
# --------------------------------------------------------------------------------------------
def _string(s: str) -> str:
    out = []
    for ch in s:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif cp < 0x20 or cp == 0x7F:
            out.append(f"\\u{cp:04x}")
        elif 0xD800 <= cp <= 0xDFFF:  # a lone surrogate is not a Unicode scalar value
            out.append("\\ufffd")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(v: Node) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_string(str(k))} = {_value(x)}" for k, x in v.items()) + "}"
    return _string(str(v))  # dates and times: not produced here, written as strings


def dumps(doc: dict[str, Node]) -> str:
    """A TOML document with one line per top-level key (nested tables written inline)."""
    return "".join(f"{_string(str(k))} = {_value(v)}\n" for k, v in doc.items())


# --------------------------------------------------------------------------------------------
# Random values
# --------------------------------------------------------------------------------------------
_WORDS = ("type", "edges", "from", "to", "lane", "windows", "id", "J1", "W_J1", "07:00", "",
          "baseline", "speed_limit", "é", "\u00e9\u4e2d", "24:00", "99:99", "-1", "nan")
_EXTREME = (0, -1, 1, 10_000, 10**18, -(10**18), 0.0, -0.5, 1e-9, 1e308, math.inf, -math.inf,
            math.nan, "", "x", [], {}, [[]], True, False)


def random_value(rng: random.Random, depth: int = 0) -> Node:
    """A random TOML value: scalars of every type, extremes, and small lists and tables."""
    r = rng.random()
    if r < 0.25:
        return rng.choice(_EXTREME)
    if r < 0.4:
        return rng.randint(-100_000, 100_000)
    if r < 0.5:
        return rng.uniform(-1e4, 1e4)
    if r < 0.65:
        return rng.choice(_WORDS)
    if r < 0.72:
        return "".join(chr(rng.randint(1, 0x2FF)) for _ in range(rng.randint(0, 12)))
    if r < 0.75:
        return rng.random() < 0.5
    if depth >= 2:
        return rng.randint(0, 10)
    if r < 0.9:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(_WORDS) or "k": random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def random_document(rng: random.Random) -> dict[str, Node]:
    """A random TOML document that borrows the scenario's section names now and then."""
    keys = ("name", "simulation", "network", "demand", "plans", "incidents", "parking", "x")
    doc: dict[str, Node] = {}
    for _ in range(rng.randint(0, 6)):
        doc[rng.choice(keys)] = random_value(rng)
    return doc


# --------------------------------------------------------------------------------------------
# Document mutations
# --------------------------------------------------------------------------------------------
def _nodes(node: Node, path: Path_ = ()) -> list[Path_]:
    """Paths of every node below ``node`` (not the root itself)."""
    out: list[Path_] = []
    items: list[tuple[str | int, Node]] = []
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    for k, v in items:
        out.append((*path, k))
        out += _nodes(v, (*path, k))
    return out


def _parent(doc: Node, path: Path_) -> Node:
    node = doc
    for k in path[:-1]:
        node = node[k]
    return node


def _retype(rng: random.Random, v: Node) -> Node:
    """The same value as another type: "250" for 250, 250 for "250", [v], {"v": v}, …"""
    if isinstance(v, bool):
        return rng.choice([str(v).lower(), int(v), [v]])
    if isinstance(v, int | float):
        return rng.choice([str(v), [v], {"value": v}, bool(v), float(v) if isinstance(v, int)
                           else int(v) if math.isfinite(v) else 0])
    if isinstance(v, str):
        try:
            number: Node = float(v)
        except ValueError:
            number = len(v)
        return rng.choice([number, [v], {"v": v}, True])
    if isinstance(v, list):
        return rng.choice([v[0] if v else 0, {str(i): x for i, x in enumerate(v)}, str(v)])
    if isinstance(v, dict):
        return rng.choice([list(v.values()), str(v), 1])
    return v


def _typo(rng: random.Random, key: str) -> str:
    if not key:
        return "x"
    i = rng.randrange(len(key))
    return rng.choice([key[:i] + key[i + 1:], key + "_", key.upper(), key[:i] + "x" + key[i:],
                       rng.choice(_WORDS) or "k"]) or "k"


def mutate_document(rng: random.Random, doc: dict[str, Node]) -> str:
    """Apply one document mutation in place; return its name."""
    paths = _nodes(doc)
    if not paths:
        doc[rng.choice(_WORDS) or "k"] = random_value(rng)
        return "add"
    path = rng.choice(paths)
    parent, key = _parent(doc, path), path[-1]
    kind = rng.choice(["delete", "rename", "retype", "replace", "extreme", "duplicate"])
    if kind == "delete":
        del parent[key]
    elif kind == "rename" and isinstance(parent, dict):
        assert isinstance(key, str)
        new = _typo(rng, key)
        parent[new] = parent.pop(key)
    elif kind == "retype":
        parent[key] = _retype(rng, parent[key])
    elif kind == "extreme":
        parent[key] = rng.choice(_EXTREME)
    elif kind == "duplicate" and isinstance(parent, list):
        parent.insert(rng.randrange(len(parent) + 1), parent[key])
    else:
        kind = "replace"
        parent[key] = random_value(rng)
    return kind


# --------------------------------------------------------------------------------------------
# Byte mutations
# --------------------------------------------------------------------------------------------
def mutate_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Damage a file: truncate, insert garbage (often not UTF-8), drop or repeat a line."""
    kind = rng.choice(["truncate", "garbage", "flip", "drop_line", "repeat_line"])
    n = len(data)
    if kind == "truncate":
        return data[: rng.randrange(n + 1)], kind
    if kind == "garbage":
        at = rng.randrange(n + 1)
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        return data[:at] + junk + data[at:], kind
    if kind == "flip" and n:
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(n)] = rng.randrange(256)
        return bytes(b), kind
    lines = data.splitlines(keepends=True)
    if not lines:
        return data, "none"
    i = rng.randrange(len(lines))
    if kind == "drop_line":
        return b"".join(lines[:i] + lines[i + 1:]), kind
    return b"".join(lines[: i + 1] + lines[i:]), "repeat_line"


# --------------------------------------------------------------------------------------------
# One mutant
# --------------------------------------------------------------------------------------------
def mutate(rng: random.Random, original: bytes) -> tuple[bytes, str]:
    """A mutant of a scenario file and a label of what was done (e.g. ``"rename+extreme"``).

    Two in three mutants change the parsed document (1–3 mutations, then written back as TOML);
    the rest damage the bytes.
    """
    if rng.random() < 2 / 3:
        doc = tomllib.loads(original.decode("utf-8"))
        kinds = [mutate_document(rng, doc) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
        return dumps(doc).encode("utf-8"), "+".join(kinds)
    data, kind = mutate_bytes(rng, original)
    return data, kind

