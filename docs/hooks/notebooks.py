"""MkDocs hook: render ``notebooks/*.py`` (jupytext percent scripts) as ``notebooks/NAME.md``.

The notebooks are converted to Markdown (markdown cells as text, code cells as Python blocks)
without being executed: the test suite executes them (``tests/test_notebooks.py``), the site only
shows them, so the docs build needs no SUMO run.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def to_markdown(script: Path) -> str:
    """The notebook as a Markdown page, with a note on where its source lives."""
    notebook = jupytext.read(script, fmt="py:percent")
    notebook.metadata.pop("jupytext", None)
    notebook.metadata.pop("kernelspec", None)
    for cell in notebook.cells:  # cell tags (``parameters``) would leak into the code fences
        cell.metadata = {}
    body = jupytext.writes(notebook, fmt="md")
    if body.startswith("---"):  # drop jupytext's empty YAML header
        body = body.split("---", 2)[2].lstrip()
    note = (f"\n\n!!! note \"Source\"\n    `notebooks/{script.name}`, a jupytext percent script: "
            "open it in Jupyter with `pip install -e '.[notebooks]'` or run it with Python. "
            "Shown here without outputs.\n\n")
    title, _, rest = body.partition("\n")
    return f"{title}{note}{rest}" if title.startswith("# ") else note + body


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for script in sorted(NOTEBOOKS.glob("*.py")):
        files.append(File.generated(config, f"notebooks/{script.stem}.md",
                                    content=to_markdown(script)))
    return files
