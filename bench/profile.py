#!/usr/bin/env python3
"""git-ml data-profile benchmark: profiling and drift on a 1 GB CSV, against `wc -l`, pandas and
Evidently, in one run.

Run it through `bench/profile` (which builds git-ml and sets up a venv with pandas and Evidently,
then calls this script with that venv's python). docs/performance-profiles.md has a recorded
run and explains the rows.

Data (bench/work/profile/, gitignored, generated once per GENERATOR_VERSION and size): two
versions of a CSV of SIZE bytes with 10 columns of mixed types (integers, floats with nulls, a
boolean, a low- and a high-cardinality category, dates, free text); the second version shifts
two numeric columns, reweights one category and adds 2% more rows. Both are tracked by git-ml in
one repository, one commit each.

Rows (every command a separate process, timed with perf_counter around it, its peak memory from
wait4; one untimed warm-up, except for Evidently's minutes-long run; tools interleaved run by
run so noise hits them alike; the file is in the page cache for every tool, so the rows compare
computation, not the disk):
  wc_l            `wc -l` of one version: one read of the file, the physical reference
  profile         `git ml data show --rev HEAD~1 --recompute --json`: one version profiled
  pandas_describe `pandas.read_csv` + `describe(include="all")` of one version
  diff_cold       `git ml data diff HEAD~1 HEAD` with no stored profiles: both versions
                  profiled, schema, quality and drift per column
  diff_warm       the same with the profiles stored (what CI does after `git ml pull`)
  evidently       pandas reads both versions, describes both, and Evidently's DataDriftPreset
                  report compares them (the job `diff_cold` does)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "work" / "profile"
GENERATOR_VERSION = 2

CATEGORIES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
WORDS = "the of a model data train loss drift value score label feature batch epoch".split()

PANDAS_JOB = r"""
import sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
paths = sys.argv[2:]
frames = [pd.read_csv(p) for p in paths]
for f in frames:
    f.describe(include="all")
if sys.argv[1] == "drift":
    try:
        from evidently import Report
        from evidently.presets import DataDriftPreset
        Report([DataDriftPreset()]).run(current_data=frames[1], reference_data=frames[0])
    except ImportError:
        from evidently.report import Report
        from evidently.metric_preset import DataDriftPreset
        r = Report(metrics=[DataDriftPreset()])
        r.run(reference_data=frames[0], current_data=frames[1])
        r.as_dict()
"""


def log(msg: str) -> None:
    print(f"bench/profile: {msg}", file=sys.stderr, flush=True)


def generate(path: Path, size: int, shifted: bool) -> None:
    """Write the CSV in chunks with pandas/numpy (the venv's python runs this script)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7 if not shifted else 8)
    target = int(size * (1.02 if shifted else 1.0))
    tmp = path.with_suffix(".part")
    written = 0
    first = True
    row = 0
    cat_p = np.array([8, 7, 6, 5, 4, 3, 2, 1], dtype=float)
    if shifted:
        cat_p = cat_p[::-1].copy()
    cat_p /= cat_p.sum()
    words = np.array(WORDS)
    with open(tmp, "wb") as out:
        while written < target:
            n = 500_000
            ratio = rng.beta(2, 5, n) + (0.1 if shifted else 0.0)
            ratio[rng.random(n) < 0.05] = np.nan
            frame = pd.DataFrame(
                {
                    "id": np.arange(row, row + n),
                    "age": rng.integers(18, 90, n),
                    "income": np.round(rng.lognormal(10.5 + (0.35 if shifted else 0), 0.6, n), 2),
                    "score": np.round(rng.normal(0.0, 1.0, n), 5),
                    "ratio": np.round(ratio, 4),
                    "active": rng.random(n) < 0.7,
                    "segment": rng.choice(np.array(CATEGORIES), n, p=cat_p),
                    "city": np.char.add("city_", rng.integers(0, 5000, n).astype(str)),
                    "day": np.datetime_as_string(
                        np.datetime64("2025-01-01") + rng.integers(0, 365, n).astype("timedelta64[D]")
                    ),
                    "note": np.char.add(
                        np.char.add(rng.choice(words, n), " "), rng.choice(words, n)
                    ),
                }
            )
            text = frame.to_csv(index=False, header=first).encode()
            out.write(text)
            written += len(text)
            row += n
            first = False
    tmp.rename(path)


def run(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one command, which must succeed."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{err}")
    return wall, usage.ru_maxrss // 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--git-ml", required=True)
    ap.add_argument("--size", type=float, default=1.0, help="GB per version (default 1)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--evidently-runs", type=int, default=None, help="default: --runs")
    ap.add_argument("--no-evidently", action="store_true")
    a = ap.parse_args()
    size = int(a.size * 1e9)
    gitml = str(Path(a.git_ml).resolve())

    data = WORK / f"v{GENERATOR_VERSION}-{size}"
    data.mkdir(parents=True, exist_ok=True)
    versions = [data / "a.csv", data / "b.csv"]
    for path, shifted in zip(versions, [False, True]):
        if not path.exists():
            log(f"generating {path.name} ({a.size:g} GB)")
            # In a child process: Linux reports a child's peak memory (wait4) as at least its
            # parent's at exec, and generating grows this process by hundreds of MiB.
            subprocess.run(
                [sys.executable, __file__, "--generate", str(path), str(size), str(int(shifted))],
                check=True,
            )

    repo = WORK / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir()
    env_git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([gitml, "-q", "init"], cwd=repo, check=True)
    (repo / "data").mkdir()
    for i, path in enumerate(versions):
        log(f"tracking version {i + 1}")
        dest = repo / "data" / "train.csv"
        if dest.exists():
            dest.unlink()
        shutil.copyfile(path, dest)
        subprocess.run([gitml, "-q", "add", "data/train.csv"], cwd=repo, check=True)
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
        subprocess.run(env_git + ["commit", "-qm", f"version {i + 1}"], cwd=repo, check=True)
    profiles = repo / ".git" / "gitml" / "cache" / "profiles"
    file_a = str(versions[0])

    def drop_profiles() -> None:
        shutil.rmtree(profiles, ignore_errors=True)

    rows: dict[str, tuple[list[str], callable | None]] = {
        "wc_l": (["wc", "-l", file_a], None),
        "profile": ([gitml, "data", "show", "data/train.csv", "--rev", "HEAD~1", "--recompute", "--json"], None),
        "pandas_describe": ([sys.executable, "-c", PANDAS_JOB, "describe", file_a], None),
        "diff_cold": ([gitml, "data", "diff", "HEAD~1", "HEAD", "data/train.csv", "--json"], drop_profiles),
        "diff_warm": ([gitml, "data", "diff", "HEAD~1", "HEAD", "data/train.csv", "--json"], None),
    }
    if not a.no_evidently:
        rows["evidently"] = ([sys.executable, "-c", PANDAS_JOB, "drift", *map(str, versions)], None)
    runs = {k: a.runs for k in rows}
    if "evidently" in rows:
        runs["evidently"] = a.evidently_runs or a.runs
        runs["pandas_describe"] = a.evidently_runs or a.runs

    # Check once that the diff finds the drift the generator put in (and only there).
    subprocess.run(
        [gitml, "data", "show", "data/train.csv", "--rev", "HEAD~1"], cwd=repo, check=True,
        stdout=subprocess.DEVNULL,
    )
    out = subprocess.run(
        [gitml, "data", "diff", "HEAD~1", "HEAD", "data/train.csv", "--json"],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout
    table = json.loads(out)["tables"][0]
    drifted = sorted(c["column"] for c in table["columns"] if c.get("drifted"))
    log(f"drifted columns: {drifted}")
    for expected in ["income", "ratio", "segment"]:
        if expected not in drifted:
            raise SystemExit(f"the diff missed the shift in `{expected}`: {out[:2000]}")

    times: dict[str, list[float]] = {k: [] for k in rows}
    peaks: dict[str, int] = {k: 0 for k in rows}
    log("warm-up")
    for name, (cmd, prep) in rows.items():
        # Evidently's run takes minutes and reads files the rows before it have cached: its
        # warm-up would only double the benchmark's length.
        if name == "evidently":
            continue
        if prep:
            prep()
        run(cmd, repo)
    for i in range(max(runs.values())):
        for name, (cmd, prep) in rows.items():
            if i >= runs[name]:
                continue
            if prep:
                prep()
            wall, peak = run(cmd, repo)
            times[name].append(wall)
            peaks[name] = max(peaks[name], peak)
            log(f"run {i + 1} {name}: {wall:.2f} s, {peak} MiB")

    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [
        f"{a.size:g} GB CSV per version ({os.path.getsize(versions[0]) / 1e9:.2f} GB and "
        f"{os.path.getsize(versions[1]) / 1e9:.2f} GB), 10 columns, {os.cpu_count()} cores; "
        f"medians of {a.runs} runs"
        + (f" (pandas and Evidently: {runs['evidently']})" if runs.get("evidently", a.runs) != a.runs else ""),
        "",
        "| row | median | min | peak memory | ratio |",
        "|---|---:|---:|---:|---|",
    ]
    ratio = {
        "wc_l": "",
        "profile": f"{med['profile'] / med['wc_l']:.2f}× `wc -l`",
        "pandas_describe": f"{med['pandas_describe'] / med['profile']:.1f}× git-ml profile",
        "diff_cold": f"{med['diff_cold'] / med['wc_l']:.2f}× `wc -l` of one version",
        "diff_warm": f"{med['diff_warm'] * 1000:.0f} ms",
    }
    if "evidently" in rows:
        ratio["evidently"] = (
            f"{med['evidently'] / med['diff_cold']:.1f}× git-ml cold diff, "
            f"{med['evidently'] / med['diff_warm']:.0f}× warm"
        )
    for name in rows:
        lines.append(
            f"| {name} | {med[name]:.2f} s | {min(times[name]):.2f} s | {peaks[name]} MiB | {ratio[name]} |"
        )
    text = "\n".join(lines)
    print(text)
    (HERE / "work" / "profile-results.md").write_text(text + "\n")
    (HERE / "work" / "profile-results.json").write_text(
        json.dumps({"times": times, "peak_mib": peaks, "drifted": drifted}, indent=1)
    )


if __name__ == "__main__" and sys.argv[1:2] == ["--generate"]:
    generate(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1")
elif __name__ == "__main__":
    main()
