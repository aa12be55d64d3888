"""The independent computation `git ml data` is checked against (tests/it/data_checks.rs).

    python data_reference.py OUTDIR [csv|parquet]

Writes OUTDIR/old.csv and OUTDIR/new.csv (or .parquet, with pyarrow, in many row groups and with
a nested list column), two versions of a table with known shifts, and prints
JSON: per version the statistics pandas computes (rows, nulls, mean, sample sd, min, max,
distinct values, value counts, quantiles with numpy's method="lower"), and per column the drift
statistics SciPy computes (Kolmogorov-Smirnov D from ks_2samp, the Jensen-Shannon distance in
base 2) and the population stability index over the old side's deciles, as docs/data-checks.md
defines it. Nothing here knows how git-ml computes anything.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp

QUANTILES = {"p1": 0.01, "p5": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99}


def table(rng: np.random.Generator, n: int, shifted: bool) -> pd.DataFrame:
    age = rng.integers(18, 81, n) + (3 if shifted else 0)
    score = rng.normal(0.3 if shifted else 0.0, 1.0, n)
    ratio = rng.uniform(0, 1, n)
    ratio[rng.uniform(0, 1, n) < (0.10 if shifted else 0.05)] = np.nan
    countries = ["US", "DE", "FR", "IN", "BR"]
    p = [0.3, 0.2, 0.2, 0.2, 0.1] if shifted else [0.4, 0.2, 0.2, 0.1, 0.1]
    country = rng.choice(countries, n, p=p)
    flag = rng.choice(["true", "false"], n)
    ts = 1.7e9 + rng.normal(5e3 if shifted else 0.0, 1e4, n)
    name = ["n" + "x" * int(k) for k in rng.integers(0, 12, n)]
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "age": age,
            "score": score,
            "ratio": ratio,
            "country": country,
            "flag": flag,
            "ts": ts,
            "name": name,
        }
    )


def lower_quantile(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q, method="lower"))


def nested_text(v) -> str:
    """A list cell as compact JSON, the text git-ml counts nested values by."""
    return json.dumps([int(x) for x in v], separators=(",", ":"))


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
        df["tags"] = df["tags"].map(nested_text)
        return df
    return pd.read_csv(path, keep_default_na=True, dtype={"flag": str})


def describe(path: Path) -> dict:
    df = read(path)
    out = {"rows": len(df), "columns": {}}
    for c in df.columns:
        s = df[c]
        col = {"nulls": int(s.isna().sum()), "count": int(s.notna().sum()), "distinct": int(s.nunique())}
        if pd.api.types.is_numeric_dtype(s):
            v = s.dropna().to_numpy(dtype=float)
            col.update(
                mean=float(v.mean()),
                sd=float(v.std(ddof=1)),
                min=float(v.min()),
                max=float(v.max()),
                quantiles={k: lower_quantile(v, q) for k, q in QUANTILES.items()},
            )
        else:
            col["values"] = {str(k): int(v) for k, v in s.value_counts().items()}
        out["columns"][c] = col
    return out


def psi(old: np.ndarray, new: np.ndarray) -> float:
    edges = np.unique([lower_quantile(old, k / 10) for k in range(1, 10)])

    def shares(x: np.ndarray) -> np.ndarray:
        # Bin i holds edge[i-1] < x <= edge[i]: searchsorted(side="left") counts edges below x.
        counts = np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1)
        return np.maximum(counts / len(x), 1e-4)

    a, b = shares(old), shares(new)
    return float(np.sum((b - a) * np.log(b / a)))


def drift(old: pd.DataFrame, new: pd.DataFrame) -> dict:
    out = {}
    for c in old.columns:
        a, b = old[c].dropna(), new[c].dropna()
        if pd.api.types.is_numeric_dtype(a):
            x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
            out[c] = {"ks": float(ks_2samp(x, y).statistic), "psi": psi(x, y)}
        else:
            pa, pb = a.value_counts(normalize=True), b.value_counts(normalize=True)
            keys = sorted(set(pa.index) | set(pb.index))
            p = np.array([pa.get(k, 0.0) for k in keys])
            q = np.array([pb.get(k, 0.0) for k in keys])
            out[c] = {"js": float(jensenshannon(p, q, base=2)), "linf": float(np.max(np.abs(p - q)))}
    return out


def write_parquet(df: pd.DataFrame, path: Path, rng: np.random.Generator) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = df.copy()
    df["tags"] = [list(range(int(k))) for k in rng.integers(0, 4, len(df))]
    # Row groups of 4,000 rows: more groups than workers, so they merge.
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=4000)


def main() -> None:
    outdir = Path(sys.argv[1])
    kind = sys.argv[2] if len(sys.argv) > 2 else "csv"
    rng = np.random.default_rng(20261204)
    n = 30_000
    old, new = outdir / f"old.{kind}", outdir / f"new.{kind}"
    if kind == "parquet":
        write_parquet(table(rng, n, False), old, rng)
        write_parquet(table(rng, n + 600, True), new, rng)
    else:
        table(rng, n, False).to_csv(old, index=False)
        table(rng, n + 600, True).to_csv(new, index=False)
    json.dump(
        {"old": describe(old), "new": describe(new), "drift": drift(read(old), read(new))},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
