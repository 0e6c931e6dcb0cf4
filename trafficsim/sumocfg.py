"""SUMO configuration files (``.sumocfg``): the one reader and the one writer.

SUMO reads an option inside any section element or directly under the root::

    <configuration>
        <input><net-file value="a.net.xml"/></input>
        <end value="3600"/>
    </configuration>

and resolves relative file names against the configuration's folder.  Bottom layer: no project
imports.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr


class SumocfgError(ValueError):
    """A configuration that cannot be read or written (the message names the file)."""


@dataclass(frozen=True)
class Option:
    """One option as written: its section (``""`` when directly under the root), name and value."""

    section: str
    key: str
    value: str


#: Options whose value is a file (or a list of files), besides the ``-file``/``-files``/
#: ``-output`` names: SUMO resolves them against the configuration's folder.
_FILE_OPTIONS = frozenset({"log", "message-log", "error-log", "save-configuration",
                           "save-template", "save-schema"})
_NAME = re.compile(r"[A-Za-z_][\w.\-]*\Z")


def is_file_option(key: str) -> bool:
    """Whether SUMO reads the option's value as a file name or a list of them."""
    return key.endswith(("-file", "-files", "-output", ".output")) or key in _FILE_OPTIONS


def read_options(path: Path) -> list[Option]:
    """Every option of a configuration, in file order, values as written.

    Raises
    ------
    SumocfgError
        When the file cannot be read or is not well-formed XML.
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        msg = f"{path}: is not valid XML: {exc}"
        raise SumocfgError(msg) from None
    except OSError as exc:
        msg = f"{path}: cannot be read ({exc.strerror or exc})"
        raise SumocfgError(msg) from None
    out = []
    for child in root:
        # a section holds options; an element without children is an option itself
        for section, el in ([(child.tag, el) for el in child] if len(child) else [("", child)]):
            value = el.get("value")
            if value is not None:
                out.append(Option(section, el.tag, value))
    return out


def read_sumocfg(path: str | Path, *, resolve: bool = True) -> dict[str, str]:
    """Option → value of a configuration, grouped or flat (the last occurrence of an option wins).

    With ``resolve``, file-valued options (:func:`is_file_option`) hold absolute paths, resolved
    against the configuration's folder as SUMO does; lists stay comma-separated.

    Raises
    ------
    SumocfgError
        When the file cannot be read or is not well-formed XML.
    """
    cfg = Path(path)
    out: dict[str, str] = {}
    for opt in read_options(cfg):
        value = opt.value
        if resolve and is_file_option(opt.key):
            value = ",".join(str(resolve_file(cfg, name)) for name in split_files(value))
        out[opt.key] = value
    return out


def split_files(value: str) -> list[str]:
    """The file names of a list-valued option (SUMO separates them with ``,`` or ``;``)."""
    return [name.strip() for name in re.split(r"[,;]", value) if name.strip()]


def resolve_file(cfg: Path, name: str) -> Path:
    """A file named in configuration ``cfg``, as an absolute path (relative to its folder)."""
    return (Path(cfg).parent / name).resolve()


def sumocfg_text(options: Mapping[str, str]) -> str:
    """The text of a flat configuration: one ``<option value="…"/>`` per line.

    Options keep the given order; those with an empty value are left out (SUMO's default
    applies).

    Raises
    ------
    SumocfgError
        When an option name is not an XML name (it would not be read back).
    """
    bad = [k for k in options if not _NAME.match(k)]
    if bad:
        msg = f"option name {bad[0]!r} is not a SUMO option name"
        raise SumocfgError(msg)
    body = "\n".join(f"    <{k} value={quoteattr(v)}/>" for k, v in options.items() if v != "")
    return f"<configuration>\n{body}\n</configuration>\n"


def write_sumocfg(path: Path, options: Mapping[str, str]) -> Path:
    """Write a configuration (see :func:`sumocfg_text`); return ``path``."""
    path.write_text(sumocfg_text(options), encoding="utf-8")
    return path
