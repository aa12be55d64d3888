"""Stage `prepare`: split the raw data into data/prepared/train.csv and test.csv.

Reads `prepare.test_size` and `prepare.seed` from params.yaml. The split is stratified (both
files keep the share of malignant tumours) and seeded, so the same data and params give
byte-identical files. Rows are copied as text, never re-formatted.
"""

import csv

from sklearn.model_selection import train_test_split

from common import LABEL, ROOT, Failure, fresh_dir, integer, param, params, run, shown

RAW = ROOT / "data" / "raw" / "breast_cancer.csv"
OUT = ROOT / "data" / "prepared"


def read_rows() -> tuple[list[str], list[list[str]]]:
    regenerate = "write it again with `python src/get_data.py` (or `git ml checkout data/raw`)"
    if not RAW.is_file():
        raise Failure(
            f"`{shown(RAW)}` does not exist", "run `python src/get_data.py`, or `git ml pull`"
        )
    with RAW.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows or LABEL not in rows[0]:
        raise Failure(f"`{shown(RAW)}` has no `{LABEL}` column", regenerate)
    header, body = rows[0], rows[1:]
    label = header.index(LABEL)
    for line, row in enumerate(body, start=2):
        if len(row) != len(header) or row[label] not in ("0", "1"):
            raise Failure(
                f"`{shown(RAW)}` line {line}: not {len(header)} fields with `{LABEL}` 0 or 1",
                regenerate,
            )
    return header, body


def main() -> None:
    table = params("prepare")
    test_size = param(
        table,
        "prepare",
        "test_size",
        lambda v: isinstance(v, float) and 0 < v < 1,
        "a fraction between 0 and 1, e.g. 0.2",
    )
    seed = param(table, "prepare", "seed", integer(0, 2**32 - 1), "an integer from 0 to 2**32-1")
    header, rows = read_rows()
    labels = [row[header.index(LABEL)] for row in rows]
    try:
        train, test = train_test_split(
            rows, test_size=test_size, random_state=seed, stratify=labels
        )
    except ValueError as e:
        raise Failure(
            f"cannot split {len(rows)} rows with `test_size: {test_size}`: {e}",
            "use a larger `prepare.test_size`, or more rows",
        ) from e

    fresh_dir(OUT)
    for name, part in (("train.csv", train), ("test.csv", test)):
        with (OUT / name).open("w", newline="") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(header)
            out.writerows(part)
    print(f"{shown(OUT)}: train.csv {len(train)} rows, test.csv {len(test)} rows (seed {seed})")


if __name__ == "__main__":
    run(main)
