"""What the stages share: paths, params.yaml, reading the prepared CSV files, and errors.

Every stage lists this file in its `deps` (gitml.toml), so a change here reruns them all.
Problems with the project's files end a stage with `error:` and `hint:` lines, not a traceback.
"""

import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).absolute().parent.parent
PARAMS = ROOT / "params.yaml"
LABEL = "malignant"  # the label column: 1 = malignant, 0 = benign


class Failure(Exception):
    """A problem with the project's files, and the hint that fixes it."""

    def __init__(self, error: str, hint: str):
        super().__init__(error)
        self.hint = hint


def run(main) -> None:
    """Run a stage's `main`, turning a Failure into `error:`/`hint:` lines and exit code 1."""
    try:
        main()
    except Failure as e:
        print(f"error: {e}\nhint: {e.hint}", file=sys.stderr)
        sys.exit(1)


def shown(path: Path) -> str:
    """A path as the user knows it: relative to the project root."""
    return str(path.relative_to(ROOT))


def params(section: str) -> dict:
    """The `section:` table of params.yaml."""
    try:
        tables = yaml.safe_load(PARAMS.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise Failure(
            f"cannot read `params.yaml`: {e}", "it must be YAML; the README lists its keys"
        ) from e
    if not isinstance(tables, dict) or not isinstance(tables.get(section), dict):
        raise Failure(f"`params.yaml` has no `{section}:` section", "the README lists its keys")
    return tables[section]


def param(table: dict, section: str, key: str, ok, want: str):
    """`table[key]` if `ok` accepts it, else a Failure saying what is wanted."""
    value = table.get(key)
    # bool is an int to Python, but `seed: true` is a mistake, not 1.
    if isinstance(value, bool) or not ok(value):
        raise Failure(f"`params.yaml`: `{section}.{key}` is `{value!r}`", f"set it to {want}")
    return value


def integer(low: int, high: int):
    """A check for `param`: an integer from `low` to `high`."""
    return lambda v: isinstance(v, int) and low <= v <= high


def read_xy(path: Path):
    """Features and labels (numpy arrays) of a prepared CSV file."""
    rerun = "rerun the split: `git ml run --force prepare`"
    if not path.is_file():
        raise Failure(
            f"`{shown(path)}` does not exist", "run `git ml run`: it runs `prepare` first"
        )
    with path.open() as f:
        header = f.readline().rstrip("\n").split(",")
    if LABEL not in header:
        raise Failure(f"`{shown(path)}` has no `{LABEL}` column", rerun)
    try:
        with warnings.catch_warnings():  # an empty table is reported below, once
            warnings.simplefilter("ignore", UserWarning)
            table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as e:
        raise Failure(f"`{shown(path)}` is not a table of numbers: {e}", rerun) from e
    if table.shape[0] == 0 or table.shape[1] != len(header):
        raise Failure(f"`{shown(path)}` has no rows, or rows of the wrong width", rerun)
    label = header.index(LABEL)
    labels = table[:, label]
    if not np.isin(labels, (0, 1)).all():
        raise Failure(f"`{shown(path)}`: `{LABEL}` is not 0 or 1 in every row", rerun)
    return np.delete(table, label, axis=1), labels.astype(int)


def fresh_file(path: Path) -> Path:
    """Make room for a new output file: create its directory, remove the old file.

    Removing rather than writing into the old file matters: after a checkout it may be a hard
    link to git-ml's cache (`cache.link = hardlink`), and writing through would change the cache.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


def fresh_dir(path: Path) -> Path:
    """Make an output directory empty: a stage owns its outputs, so no file of an older run
    survives in them (and none is written through a link into git-ml's cache)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path
