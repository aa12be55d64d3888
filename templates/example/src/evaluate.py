"""Stage `evaluate`: score models/model.pkl on data/prepared/test.csv; write eval/.

eval/metrics.json       {"accuracy", "f1", "roc_auc"} (malignant is the positive class)
eval/plots/roc.json     the ROC curve: [{"fpr", "tpr", "threshold"}, ...]; the first point's
                        threshold is null (above every score: nothing is called malignant)
eval/plots/confusion.json   one record per test row: [{"actual", "predicted"}, ...]
eval/plots/train_curve.json test accuracy of the first k trees: [{"trees", "accuracy"}, ...]

The whole `eval/` directory is this stage's output, tracked by git-ml like data.
"""

import json

import joblib
import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score, roc_curve

from common import ROOT, Failure, fresh_dir, read_xy, run, shown

MODEL = ROOT / "models" / "model.pkl"
TEST = ROOT / "data" / "prepared" / "test.csv"
OUT = ROOT / "eval"
CLASSES = {0: "benign", 1: "malignant"}


def write_json(path, value) -> None:
    # allow_nan=False: NaN or Infinity would make a file no strict JSON reader accepts.
    path.write_text(json.dumps(value, indent=2, allow_nan=False) + "\n")


def rounded(x: float) -> float:
    return round(float(x), 6)


def main() -> None:
    if not MODEL.is_file():
        raise Failure(f"`{shown(MODEL)}` does not exist", "run `git ml run`: it runs `train` first")
    model = joblib.load(MODEL)
    x, y = read_xy(TEST)
    if len(set(y)) < 2:
        raise Failure(f"`{shown(TEST)}` holds one class only", "use a larger `prepare.test_size`")

    score = model.predict_proba(x)[:, 1]  # the forest's probability of "malignant"
    predicted = model.predict(x)
    metrics = {
        "accuracy": rounded(accuracy_score(y, predicted)),
        "f1": rounded(f1_score(y, predicted)),
        "roc_auc": rounded(roc_auc_score(y, score)),
    }

    fpr, tpr, thresholds = roc_curve(y, score)
    roc = [
        {"fpr": rounded(f), "tpr": rounded(t), "threshold": rounded(h) if np.isfinite(h) else None}
        for f, t, h in zip(fpr, tpr, thresholds, strict=True)
    ]
    confusion = [
        {"actual": CLASSES[int(a)], "predicted": CLASSES[int(p)]}
        for a, p in zip(y, predicted, strict=True)
    ]
    # A forest's probability is the mean over its trees: add the trees one at a time, in the
    # order the forest sums them, so the last point is exactly the whole forest's accuracy.
    curve, total = [], np.zeros(len(y))
    for k, tree in enumerate(model.estimators_, start=1):
        total += tree.predict_proba(x)[:, 1]
        curve.append({"trees": k, "accuracy": rounded(accuracy_score(y, total / k > 0.5))})

    fresh_dir(OUT)
    (OUT / "plots").mkdir()
    write_json(OUT / "metrics.json", metrics)
    write_json(OUT / "plots" / "roc.json", roc)
    write_json(OUT / "plots" / "confusion.json", confusion)
    write_json(OUT / "plots" / "train_curve.json", curve)
    print(" ".join(f"{k}={v}" for k, v in metrics.items()))


if __name__ == "__main__":
    run(main)
