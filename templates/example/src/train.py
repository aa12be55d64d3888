"""Stage `train`: fit a random forest on data/prepared/train.csv and save models/model.pkl.

Reads `train.n_estimators`, `train.max_depth` and `train.seed` from params.yaml. One thread
(`n_jobs=1`) and a fixed seed: the same data and params give the same forest, every time.
"""

import joblib
from sklearn.ensemble import RandomForestClassifier

from common import ROOT, fresh_file, integer, param, params, read_xy, run, shown

TRAIN = ROOT / "data" / "prepared" / "train.csv"
MODEL = ROOT / "models" / "model.pkl"


def main() -> None:
    table = params("train")
    n_estimators = param(
        table, "train", "n_estimators", integer(1, 10_000), "an integer from 1 to 10000"
    )
    max_depth = param(
        table,
        "train",
        "max_depth",
        lambda v: v is None or integer(1, 1_000)(v),
        "an integer from 1 to 1000, or null (no limit)",
    )
    seed = param(table, "train", "seed", integer(0, 2**32 - 1), "an integer from 0 to 2**32-1")
    x, y = read_xy(TRAIN)

    model = RandomForestClassifier(
        n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=1
    )
    model.fit(x, y)
    joblib.dump(model, fresh_file(MODEL))
    print(f"{n_estimators} trees, max_depth {max_depth}, {len(y)} rows -> {shown(MODEL)}")


if __name__ == "__main__":
    run(main)
