"""MkDocs hook: replace ``<!-- cli-help COMMAND -->`` with ``trafficsim COMMAND --help``.

The option lists on the command-line page come from the argument parser itself, so they cannot
drift from the code.
"""

from __future__ import annotations

import argparse
import os
import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

MARK = re.compile(r"<!-- cli-help (\S+) -->")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    from trafficsim.cli import _parser

    parser = _parser()
    for action in parser._actions:  # argparse has no public accessor for subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if not MARK.search(markdown):
        return markdown
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal width
    subs = _subcommands()

    def helptext(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in subs:
            msg = f"{page.file.src_uri}: no trafficsim command '{name}'"
            raise ValueError(msg)
        return f"```text\n{subs[name].format_help().rstrip()}\n```"

    return MARK.sub(helptext, markdown)
