"""Write the raw data set: data/raw/breast_cancer.csv.

The Wisconsin breast cancer data set ships inside scikit-learn, so nothing is downloaded: 569
tumours, 30 numeric measurements each, and a label `malignant` (1) or benign (0). This is the
"raw data" of the project; track it with `git ml add data/raw` rather than committing it.

    python src/get_data.py              # all 569 rows
    python src/get_data.py --rows 400   # only the first 400: a changed data set, for trying
                                        # what `git ml status`, `diff` and `run` do with it
"""

import argparse
import csv
import sys

from sklearn.datasets import load_breast_cancer

from common import LABEL, ROOT, fresh_file, shown

OUT = ROOT / "data" / "raw" / "breast_cancer.csv"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="keep only the first ROWS rows (at least 20)")
    args = parser.parse_args()

    data = load_breast_cancer()
    rows = len(data.target)
    if args.rows is not None:
        if not 20 <= args.rows <= rows:
            print(f"error: `--rows {args.rows}` is out of range", file=sys.stderr)
            print(f"hint: pass a number from 20 to {rows}", file=sys.stderr)
            return 2
        rows = args.rows

    # Column names without spaces ("mean radius" -> "mean_radius") are easier in every tool.
    header = [name.replace(" ", "_") for name in data.feature_names] + [LABEL]
    with fresh_file(OUT).open("w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(header)
        for features, target in zip(data.data[:rows], data.target[:rows], strict=True):
            # scikit-learn's target is 0 = malignant, 1 = benign; the positive class here is
            # the one a screening test looks for. repr() round-trips every float exactly.
            out.writerow([repr(float(v)) for v in features] + [int(target == 0)])
    print(f"wrote {shown(OUT)}: {rows} rows, {len(header) - 1} features")
    return 0


if __name__ == "__main__":
    sys.exit(main())
