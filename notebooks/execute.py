"""Runs every notebook top to bottom in a fresh kernel; writes executed copies.

`make notebooks` calls it: the notebooks here are committed without outputs,
the executed copies under docs/notebooks/ are for reading on the web. A cell
that raises stops the run with that cell's error.

    python notebooks/execute.py --output_dir docs/notebooks [--notebooks quickstart.ipynb]

finetune_from_checkpoint.ipynb downloads its checkpoint from the Hugging Face
Hub; without Hub access, run the others with --notebooks.
"""

import pathlib

import nbclient
import nbformat
from absl import app, flags

NOTEBOOKS = pathlib.Path(__file__).resolve().parent


def define_flags():
    """The command's flags; defined when it runs, not on import (tests import `execute`
    beside commands that define flags of the same names)."""
    flags.DEFINE_string("output_dir", "docs/notebooks", "where the executed copies go")
    flags.DEFINE_integer("timeout", 1800, "seconds one cell may take")
    flags.DEFINE_list("notebooks", [], "file names in notebooks/ to run; all of them when empty")


def execute(path, timeout=1800, working_dir=None):
    """`path` executed in a fresh `python3` kernel (cwd `working_dir`), as a notebook node."""
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(working_dir or path.parent)}},
    )
    client.execute()
    return notebook


def main(argv):
    del argv
    output_dir = pathlib.Path(flags.FLAGS.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    names = flags.FLAGS.notebooks or sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    for path in (NOTEBOOKS / name for name in names):
        if not path.is_file():
            raise app.UsageError(f"no notebook {path}")
        print(f"executing {path.name}", flush=True)
        nbformat.write(execute(path, flags.FLAGS.timeout), output_dir / path.name)
        print(f"wrote {output_dir / path.name}")


if __name__ == "__main__":
    define_flags()
    app.run(main)
