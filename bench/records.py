#!/usr/bin/env python3
"""git-ml run-record benchmark: `git ml diff` and `git ml log` against DVC on 1,000 commits.

Run it through `bench/records` (which builds git-ml, sets up the DVC venv, then calls this
script). See docs/performance-records.md for what each row measures and the targets.

The repository (bench/work/records-repo, gitignored) is generated once and reused while its
parameters do not change: N commits on `main`, each changing `metrics.json` (nested metrics) and
`params.yaml`, each with one run recorded by `git ml record` (a real note in refs/notes/gitml),
a small tracked data directory that changes every 100 commits, and DVC initialised in the same
repository with a top-level `metrics:`/`params:` list in dvc.yaml. Metric values are computed from
a seed, so the expected numbers are known and every git-ml output is checked against them.

Method (as bench/bench.py): warm runs (the repository is read-only during the measurement, so
there is nothing to prepare between runs); every command is timed with time.perf_counter()
around subprocess.run(); one untimed warm-up per command; the tools are interleaved run by run
(git-ml, DVC, reference, git-ml, ...) so that noise on the shared machine hits them alike; the
table quotes medians, minimums and the ratio DVC/git-ml of the medians.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "work"

GENERATOR_VERSION = 1
SEED = 20250101
BASE_TIME = 1735689600  # 2025-01-01T00:00:00Z; commit i is BASE_TIME + i hours
DATA_EVERY = 100  # the tracked data directory changes every DATA_EVERY commits

ROWS = ["diff", "log_all", "log_300"]

# Targets from the issue. ms: absolute limit on git-ml's median; ratio: DVC/git-ml at least.
TARGETS = {
    "diff": {"ms": 20.0, "ratio": 20.0, "text": "<20 ms, ≥20× DVC"},
    "log_all": {"ms": 300.0, "ratio": 20.0, "text": "<300 ms, ≥20× DVC"},
    "log_300": {"ms": None, "ratio": 20.0, "text": "≥20× DVC"},
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The generated history


def values(i: int) -> tuple[dict, dict]:
    """Metrics (nested, as written to metrics.json) and params (nested) of commit i."""
    rng = random.Random(f"{SEED}:{i}")
    progress = 1 - math.exp(-i / 250)
    acc = 0.55 + 0.4 * progress + rng.gauss(0, 0.01)
    train = 1.2 * (1 - progress) + 0.1 + rng.gauss(0, 0.01)
    val = train + 0.05 + abs(rng.gauss(0, 0.02))
    f1 = acc - 0.03 + rng.gauss(0, 0.01)
    metrics = {"acc": round(acc, 6), "loss": {"train": round(train, 6), "val": round(val, 6)},
               "f1": round(f1, 6)}
    params = {"train": {"lr": round(10 ** -(2 + (i % 7) / 3), 8), "epochs": 10 + i // 100,
                        "batch": 32 * (1 + i % 4)},
              "model": {"depth": 2 + i % 6, "dropout": round(0.1 * (i % 5), 2)}}
    return metrics, params


def flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def params_yaml(p: dict) -> str:
    lines = []
    for k, v in p.items():
        lines.append(f"{k}:")
        for k2, v2 in v.items():
            lines.append(f"  {k2}: {v2!r}")
    return "\n".join(lines) + "\n"


def data_csv(version: int) -> str:
    rng = random.Random(f"{SEED}:data:{version}")
    rows = ["x,y,label"] + [f"{rng.random():.6f},{rng.random():.6f},{rng.randrange(2)}" for _ in range(200)]
    return "\n".join(rows) + "\n"


def rfc3339(secs: int) -> str:
    return dt.datetime.fromtimestamp(secs, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(repo: Path, n: int, gitml: str, dvc: str | None) -> dict:
    """The repository of n commits; skipped when its marker records the same parameters."""
    params = {"generator": GENERATOR_VERSION, "commits": n, "seed": SEED, "dvc": bool(dvc)}
    marker = repo / ".git" / "bench-records.json"
    if marker.exists():
        try:
            info = json.loads(marker.read_text())
            if info.get("params") == params:
                log(f"repo: reusing {repo} ({n} commits)")
                return info
        except ValueError:
            pass
    log(f"repo: generating {repo} ({n} commits, one `git ml record` each) ...")
    t0 = time.perf_counter()
    rmtree(repo)
    repo.mkdir(parents=True)
    must(["git", "init", "-q", "-b", "main"], repo)
    must([gitml, "-q", "init"], repo)
    with open(repo / "gitml.toml", "a") as f:
        f.write('\n[metrics]\nfiles = ["metrics.json"]\n\n[params]\nfiles = ["params.yaml"]\n')
    if dvc:
        must([dvc, "init", "-q"], repo)
        # DVC 3 reads metrics and params declared at the top level of dvc.yaml (no stage needed).
        (repo / "dvc.yaml").write_text("metrics:\n  - metrics.json\nparams:\n  - params.yaml\n")
    (repo / "data").mkdir()
    commits = []
    for i in range(n):
        m, p = values(i)
        (repo / "metrics.json").write_text(json.dumps(m) + "\n")
        (repo / "params.yaml").write_text(params_yaml(p))
        if i % DATA_EVERY == 0:
            (repo / "data" / "train.csv").write_text(data_csv(i // DATA_EVERY))
            must([gitml, "-q", "add", "data"], repo)
        t = BASE_TIME + i * 3600
        env = {"GIT_AUTHOR_DATE": f"@{t} +0000", "GIT_COMMITTER_DATE": f"@{t} +0000"}
        if i == 0:
            must(["git", "add", "-A"], repo)
        must(["git", "commit", "-q", "-a", "-m", f"train {i}: acc {m['acc']}"], repo, env=env)
        # The run finished half an hour after the commit; GITML_NOW makes its time reproducible.
        env = {"GITML_NOW": rfc3339(t + 1800).replace("Z", ".000Z")}
        must([gitml, "-q", "record", "--command", "python train.py", "--duration", f"{600 + i % 60}",
              "--tag", f"seed={i % 3}"], repo, env=env)
        if i % 100 == 99 or i == n - 1:
            log(f"  {i + 1}/{n} commits ({time.perf_counter() - t0:.0f} s)")
    commits = must(["git", "rev-list", "--first-parent", "--reverse", "HEAD"], repo).stdout.split()
    assert len(commits) == n, (len(commits), n)
    must(["git", "gc", "-q"], repo)  # a packed repository, as after any auto gc
    info = {"params": params, "commits": commits, "generated_s": time.perf_counter() - t0}
    marker.write_text(json.dumps(info))
    log(f"repo: generated in {info['generated_s']:.0f} s")
    return info


# --------------------------------------------------------------------------------------------
# Running commands


ENV: dict[str, str] = {}


def make_env(gitml: Path) -> dict[str, str]:
    home = WORK / "records-home"
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = home / "gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = git-ml bench\n\temail = bench@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n"
        "[advice]\n\tdetachedHead = false\n"
        "[gc]\n\tauto = 0\n"
    )
    dvc_global = home / "dvc-global"
    dvc_global.mkdir(exist_ok=True)
    (dvc_global / "config").write_text("[core]\n    analytics = false\n    check_update = false\n")
    (home / "dvc-system").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITML_", "GIT_", "DVC_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        DVC_NO_ANALYTICS="1",
        DVC_GLOBAL_CONFIG_DIR=str(dvc_global),
        DVC_SYSTEM_CONFIG_DIR=str(home / "dvc-system"),
        DVC_SITE_CACHE_DIR=str(home / "dvc-site-cache"),
        PATH=f"{gitml.parent}{os.pathsep}{env.get('PATH', '')}",
        LC_ALL="C",
        COLUMNS="200",
    )
    return env


@dataclass
class Result:
    seconds: float
    cpu: float
    returncode: int
    stdout: str
    stderr: str


class Timeout(Exception):
    pass


def run(cmd: list[str], cwd: Path, env: dict | None = None, timeout: float | None = None) -> Result:
    """Run `cmd` and time it (wall clock, and CPU of waited-for children)."""
    e = ENV if not env else {**ENV, **env}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=e, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Timeout(f"killed after {timeout:.0f} s")
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return Result(t1 - t0, cpu, p.returncode,
                  p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))


def must(cmd: list[str], cwd: Path, env: dict | None = None) -> Result:
    r = run(cmd, cwd, env)
    if r.returncode != 0:
        raise RuntimeError(f"`{' '.join(map(str, cmd))}` in {cwd} exited {r.returncode}\n"
                           f"stdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}")
    return r


def rmtree(p: Path) -> None:
    if p.exists() or p.is_symlink():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


# --------------------------------------------------------------------------------------------
# Measurement


@dataclass
class Series:
    """One command measured N times, e.g. `git ml log --json`."""

    role: str  # "git-ml", "dvc", "ref" or "extra"
    label: str  # the command as shown in the report
    cmd: list[str]
    verify: Callable[[Result], str | None] | None = None  # returns an error message or None
    runs: int = 5
    warmup: int = 1
    timeout: float | None = None  # a run that takes longer is killed, reported, and not timed
    times: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    verified: int = 0

    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    def to_json(self) -> dict:
        return {
            "role": self.role,
            "command": self.label,
            "argv": self.cmd,
            "runs": len(self.times),
            "median_s": self.median(),
            "min_s": min(self.times) if self.times else None,
            "max_s": max(self.times) if self.times else None,
            "times_s": self.times,
            "cpu_s": self.cpus,
            "median_cpu_s": statistics.median(self.cpus) if self.cpus else None,
            "verified_runs": self.verified,
            "errors": self.errors,
        }


def measure(series: list[Series], repo: Path) -> None:
    """Warm up every series, then run them interleaved run by run."""
    for s in series:
        for _ in range(s.warmup):
            try:
                r = run(s.cmd, repo, timeout=s.timeout)
            except Timeout as e:
                s.errors.append(f"warm-up: {e}")
                log(f"  !! {s.label}: warm-up {e}")
                continue
            if r.returncode != 0:
                s.errors.append(f"warm-up exited {r.returncode}: {r.stderr.strip()[-500:]}")
            elif s.verify:
                err = s.verify(r)
                if err:
                    s.errors.append(f"warm-up: {err}")
    rounds = max(s.runs for s in series)
    for i in range(rounds):
        for s in series:
            if i >= s.runs:
                continue
            try:
                r = run(s.cmd, repo, timeout=s.timeout)
            except Timeout as e:
                s.errors.append(f"run {i + 1}: {e} (not timed)")
                log(f"  !! {s.label}: run {i + 1} {e} (not timed)")
                continue
            err = None
            if r.returncode != 0:
                err = f"exited {r.returncode}: {r.stderr.strip()[-800:]} {r.stdout.strip()[-400:]}"
            elif s.verify:
                err = s.verify(r)
                s.verified += err is None
            if err:
                s.errors.append(f"run {i + 1}: {err}")
                log(f"  !! {s.label}: {err[:400]}")
            s.times.append(r.seconds)
            s.cpus.append(r.cpu)
            if s.runs <= 5 or i == 0 or i == s.runs - 1:
                log(f"  {s.role:6} {s.label:52} run {i + 1}/{s.runs}: {fmt_time(r.seconds)} "
                    f"(cpu {r.cpu * 1000:.0f} ms)")


def fmt_time(s: float | None) -> str:
    if s is None:
        return "—"
    if s < 0.01:
        return f"{s * 1000:.2f} ms"
    if s < 1:
        return f"{s * 1000:.1f} ms"
    return f"{s:.2f} s"


def fmt_ratio(x: float | None) -> str:
    return "—" if x is None else (f"{x:.0f}×" if x >= 10 else f"{x:.1f}×")


# --------------------------------------------------------------------------------------------
# Checks of the outputs against the generated values


def close(a, b) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= 1e-9 * max(1, abs(b))


class Checks:
    def __init__(self, commits: list[str]):
        self.commits = commits
        self.n = len(commits)
        self.index = {c: i for i, c in enumerate(commits)}

    def gitml_diff(self, a: int, b: int) -> Callable[[Result], str | None]:
        ma, pa = (flat(x) for x in values(a))
        mb, pb = (flat(x) for x in values(b))

        def verify(r: Result) -> str | None:
            try:
                j = json.loads(r.stdout)
            except ValueError as e:
                return f"not JSON: {e}"
            for side, i in (("old", a), ("new", b)):
                s = j.get(side) or {}
                if s.get("commit") != self.commits[i]:
                    return f"{side}.commit is {s.get('commit')}, expected {self.commits[i]}"
                if s.get("origin") != "record" or s.get("runs") != 1:
                    return f"{side}: origin {s.get('origin')}, runs {s.get('runs')}; expected record, 1"
            metrics = {m["name"]: m for m in j.get("metrics", [])}
            if set(metrics) != set(ma):
                return f"metrics {sorted(metrics)}, expected {sorted(ma)}"
            for k in ma:
                m = metrics[k]
                old, new = (m.get("old") or {}).get("mean"), (m.get("new") or {}).get("mean")
                if not close(old, ma[k]) or not close(new, mb[k]):
                    return f"metric {k}: old {old} new {new}, expected {ma[k]} → {mb[k]}"
                if not close(m.get("change"), mb[k] - ma[k]):
                    return f"metric {k}: change {m.get('change')}, expected {mb[k] - ma[k]}"
            params = {p["name"]: p for p in j.get("params", [])}
            if set(params) != set(pa):
                return f"params {sorted(params)}, expected {sorted(pa)}"
            for k in pa:
                if not close(params[k].get("old"), pa[k]) or not close(params[k].get("new"), pb[k]):
                    return f"param {k}: {params[k].get('old')} → {params[k].get('new')}, expected {pa[k]} → {pb[k]}"
                if params[k].get("changed") != (pa[k] != pb[k]):
                    return f"param {k}: changed is {params[k].get('changed')}"
            data = {d["path"]: d for d in j.get("data", [])}
            changed = a // DATA_EVERY != b // DATA_EVERY
            want = "modified" if changed else "unchanged"
            if "data" not in data or data["data"].get("status") != want:
                return f"data: {j.get('data')}, expected `data` {want}"
            return None
        return verify

    def dvc_diff(self, a: int, b: int) -> Callable[[Result], str | None]:
        ma, mb = flat(values(a)[0]), flat(values(b)[0])

        def verify(r: Result) -> str | None:
            try:
                j = json.loads(r.stdout)["metrics.json"]
            except (ValueError, KeyError) as e:
                return f"unexpected output ({e}): {r.stdout[:300]}"
            for k in ma:
                if not close(j.get(k, {}).get("old"), ma[k]) or not close(j.get(k, {}).get("new"), mb[k]):
                    return f"metric {k}: {j.get(k)}, expected {ma[k]} → {mb[k]}"
            return None
        return verify

    def gitml_log(self, count: int) -> Callable[[Result], str | None]:
        def verify(r: Result) -> str | None:
            try:
                j = json.loads(r.stdout)
            except ValueError as e:
                return f"not JSON: {e}"
            entries = j.get("entries", [])
            if len(entries) != count:
                return f"{len(entries)} entries, expected {count}"
            want_names = sorted(flat(values(0)[0]))
            if sorted(j.get("metrics", [])) != want_names:
                return f"metrics {j.get('metrics')}, expected {want_names}"
            if j.get("warnings"):
                return f"warnings: {j['warnings'][:3]}"
            for k, e in enumerate(entries):  # newest first
                i = self.n - 1 - k
                if e.get("commit") != self.commits[i]:
                    return f"entry {k}: commit {e.get('commit')}, expected {self.commits[i]}"
                if e.get("origin") != "record" or e.get("runs") != 1:
                    return f"entry {k}: origin {e.get('origin')}, runs {e.get('runs')}"
                want = flat(values(i)[0])
                for name, v in want.items():
                    if not close(e["metrics"].get(name), v):
                        return f"entry {k} ({self.commits[i][:12]}): {name} = {e['metrics'].get(name)}, expected {v}"
            return None
        return verify

    def gitml_log_text(self, count: int) -> Callable[[Result], str | None]:
        def verify(r: Result) -> str | None:
            short = {c[:10] for c in self.commits}
            hits = sum(1 for line in r.stdout.splitlines() if line.split()[:1] and line.split()[0][:10] in short)
            if hits < count:
                return f"{hits} commit lines in the table, expected {count}"
            return None
        return verify

    def dvc_show_all(self) -> Callable[[Result], str | None]:
        def verify(r: Result) -> str | None:
            try:
                j = json.loads(r.stdout)
            except ValueError as e:
                return f"not JSON: {e}"
            revs = {k: v for k, v in j.items() if k in self.index}
            if len(revs) != self.n:
                return f"{len(revs)} of the {self.n} commits in the output ({len(j)} keys)"
            i = self.n // 2
            got = j[self.commits[i]]["data"]["metrics.json"]["data"]["acc"]
            if not close(got, values(i)[0]["acc"]):
                return f"acc of commit {i} is {got}, expected {values(i)[0]['acc']}"
            return None
        return verify

    def dvc_exp_show(self, count: int) -> Callable[[Result], str | None]:
        def verify(r: Result) -> str | None:
            try:
                j = json.loads(r.stdout)
            except ValueError as e:
                return f"not JSON: {e}"
            revs = [x.get("rev") for x in j if isinstance(x, dict)]
            found = [x for x in revs if x in self.index]
            if len(found) != count:
                return f"{len(found)} commits in the output, expected {count} ({len(revs)} entries)"
            return None
        return verify


# --------------------------------------------------------------------------------------------
# Rows


DESCRIPTIONS = {
    "diff": "`diff A B` of two commits 500 apart (metrics, params, data) vs `dvc metrics diff A B`",
    "log_all": "metric history of all 1,000 commits: `git ml log --json` vs `dvc metrics show --all-commits --json`",
    "log_300": "metric history of the last 300 commits: `git ml log -n 300 --json` vs `dvc exp show -n 300 --json`",
}


def rows_for(args, repo: Path, checks: Checks) -> dict[str, list[Series]]:
    g, d = args.gitml, args.dvc
    n = checks.n
    a, b = n // 4, n // 4 + n // 2  # 250 and 750 for 1,000 commits: 500 apart, data changed
    A, B = checks.commits[a], checks.commits[b]
    fast, slow, to = args.runs, args.dvc_runs, args.dvc_timeout
    out: dict[str, list[Series]] = {}

    s = [Series("git-ml", f"git-ml diff A B --json", [g, "diff", A, B, "--json"],
                checks.gitml_diff(a, b), runs=fast)]
    if d:
        s.append(Series("dvc", "dvc metrics diff A B --json", [d, "metrics", "diff", A, B, "--json"],
                        checks.dvc_diff(a, b), runs=slow, timeout=to))
    s.append(Series("ref", "git cat-file -p A:metrics.json (one git process)",
                    ["git", "cat-file", "-p", f"{A}:metrics.json"], runs=fast))
    s.append(Series("extra", "git ml diff A B (table, through git)", ["git", "ml", "diff", A, B], runs=fast))
    if d:
        s.append(Series("extra", "dvc exp diff A B --json (metrics and params)",
                        [d, "exp", "diff", A, B, "--json"], runs=slow, timeout=to))
    out["diff"] = s

    s = [Series("git-ml", "git-ml log --json", [g, "log", "--json"], checks.gitml_log(n), runs=fast)]
    if d:
        s.append(Series("dvc", "dvc metrics show --all-commits --json",
                        [d, "metrics", "show", "--all-commits", "--json"], checks.dvc_show_all(),
                        runs=args.dvc_all_runs, warmup=0, timeout=to))
    s.append(Series("ref", f"git log --first-parent --format=… ({n} commits)",
                    ["git", "log", "--first-parent", "--format=%H %cI %s", "HEAD"], runs=fast))
    s.append(Series("extra", "git ml log (table with sparklines, through git)", ["git", "ml", "log"],
                    checks.gitml_log_text(n), runs=fast))
    if d and args.dvc_exp_all:
        s.append(Series("extra", f"dvc exp show -n {n} --json", [d, "exp", "show", "-n", str(n), "--json"],
                        checks.dvc_exp_show(n), runs=args.dvc_all_runs, warmup=0, timeout=to))
    out["log_all"] = s

    k = min(300, n)
    s = [Series("git-ml", f"git-ml log -n {k} --json", [g, "log", "-n", str(k), "--json"],
                checks.gitml_log(k), runs=fast)]
    if d:
        s.append(Series("dvc", f"dvc exp show -n {k} --json", [d, "exp", "show", "-n", str(k), "--json"],
                        checks.dvc_exp_show(k), runs=slow, timeout=to))
    s.append(Series("ref", f"git log --first-parent -n {k} --format=…",
                    ["git", "log", "--first-parent", "-n", str(k), "--format=%H %cI %s", "HEAD"], runs=fast))
    out["log_300"] = s
    return out


def summarize(name: str, series: list[Series]) -> dict:
    by = {s.role: s for s in series if s.role != "extra"}
    g, d, r = by.get("git-ml"), by.get("dvc"), by.get("ref")
    gm, dm, rm = (s.median() if s else None for s in (g, d, r))
    t = TARGETS[name]
    ratio = dm / gm if dm and gm else None
    misses = []
    if gm is None:
        verdict = "—"
    else:
        if t["ms"] is not None and gm * 1000 >= t["ms"]:
            misses.append(f"{gm * 1000:.1f} ms ≥ {t['ms']:.0f} ms")
        if ratio is not None and ratio < t["ratio"]:
            misses.append(f"DVC/git-ml {ratio:.1f}× < {t['ratio']:.0f}×")
        verdict = "PASS" if not misses else "MISS (" + "; ".join(misses) + ")"
        if ratio is None and t["ms"] is None:
            verdict = "— (no DVC)"
        if g.errors:
            verdict = "FAIL"  # git-ml was wrong: its time does not count
    return {
        "row": name,
        "description": DESCRIPTIONS[name],
        "gitml_median_s": gm,
        "gitml_min_s": min(g.times) if g and g.times else None,
        "dvc_median_s": dm,
        "dvc_min_s": min(d.times) if d and d.times else None,
        "ref_median_s": rm,
        "dvc_over_gitml": ratio,
        "dvc_over_gitml_min": (min(d.times) / min(g.times)) if d and g and d.times and g.times else None,
        "target": t["text"],
        "verdict": verdict,
        "errors": [f"{s.label}: {e}" for s in series for e in s.errors],
        "series": [s.to_json() for s in series],
    }


def table(rows: list[dict]) -> list[list[str]]:
    out = [["row", "git-ml median (min)", "DVC median (min)", "DVC/git-ml", "git reference", "target", "result"]]
    for r in rows:
        ref = next((s for s in r["series"] if s["role"] == "ref"), None)
        out.append([
            r["row"],
            f"{fmt_time(r['gitml_median_s'])} ({fmt_time(r['gitml_min_s'])})",
            f"{fmt_time(r['dvc_median_s'])} ({fmt_time(r['dvc_min_s'])})" if r["dvc_median_s"] else "—",
            fmt_ratio(r["dvc_over_gitml"]),
            f"{fmt_time(ref['median_s'])} ({ref['command']})" if ref else "—",
            r["target"],
            r["verdict"],
        ])
    return out


def text_table(t: list[list[str]]) -> str:
    w = [max(len(row[i]) for row in t) for i in range(len(t[0]))]
    lines = []
    for n, row in enumerate(t):
        lines.append("  ".join(c.ljust(w[i]) for i, c in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * x for x in w))
    return "\n".join(lines)


def md_table(t: list[list[str]]) -> str:
    lines = ["| " + " | ".join(t[0]) + " |", "|" + "|".join("---" for _ in t[0]) + "|"]
    for row in t[1:]:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    return "\n".join(lines)


def cmd_out(cmd: list[str], cwd: Path = ROOT) -> str:
    try:
        return subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True).stdout.strip()
    except OSError as e:
        return f"unavailable ({e})"


def environment(args) -> dict:
    commit = cmd_out(["git", "rev-parse", "--short=12", "HEAD"])
    dirty = cmd_out(["git", "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"])
    cpu = mem = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                   if l.startswith("model name"))
        mem = next(f"{int(l.split()[1]) / 1024**2:.1f} GiB" for l in Path("/proc/meminfo").read_text().splitlines()
                   if l.startswith("MemTotal"))
    except (OSError, StopIteration):
        pass
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "filesystem": cmd_out(["findmnt", "-n", "-o", "FSTYPE", "-T", str(args.repo)]),
        "loadavg_at_start": os.getloadavg(),
        "gitml": cmd_out([args.gitml, "--version"]),
        "gitml_commit": commit + ("+dirty" if dirty else ""),
        "dvc": cmd_out([args.dvc, "--version"]) if args.dvc else "not run",
        "git": cmd_out(["git", "--version"]),
        "python": platform.python_version(),
        "commits": args.commits,
        "runs": {"git-ml": args.runs, "dvc": args.dvc_runs, "dvc_all_commits": args.dvc_all_runs},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gitml", type=Path, default=ROOT / "target" / "release" / "git-ml")
    ap.add_argument("--dvc", type=Path, default=WORK / "venv" / "bin" / "dvc")
    ap.add_argument("--no-dvc", action="store_true", help="measure git-ml and the references only")
    ap.add_argument("--commits", type=int, default=1000, help="commits in the generated history (default 1000)")
    ap.add_argument("--repo", type=Path, default=WORK / "records-repo", help="where the repository is generated")
    ap.add_argument("--runs", type=int, default=30, help="timed runs of the git-ml and git commands (default 30)")
    ap.add_argument("--dvc-runs", type=int, default=5, help="timed runs of the DVC commands (default 5)")
    ap.add_argument("--dvc-all-runs", type=int, default=3,
                    help="timed runs of the DVC commands over all commits (default 3; no warm-up)")
    ap.add_argument("--dvc-timeout", type=float, default=300,
                    help="a DVC run taking longer is killed and reported, not timed (default 300 s)")
    ap.add_argument("--dvc-exp-all", action="store_true",
                    help=f"also time `dvc exp show -n N` over all commits (slow)")
    ap.add_argument("--only", default=None, help=f"comma-separated rows, of: {','.join(ROWS)}")
    ap.add_argument("--quick", action="store_true", help="100 commits, 5/2 runs, a separate repo: a smoke test")
    ap.add_argument("--out", type=Path, default=WORK / "records-results", help="results prefix (.md, .json)")
    args = ap.parse_args()
    if args.quick:
        args.commits = 100 if args.commits == 1000 else args.commits
        args.runs, args.dvc_runs, args.dvc_all_runs = min(args.runs, 5), min(args.dvc_runs, 2), 1
        if args.repo == WORK / "records-repo":
            args.repo = WORK / "records-repo-quick"
        if args.out == WORK / "records-results":
            args.out = WORK / "records-results-quick"
    rows = ROWS if not args.only else [r.strip() for r in args.only.split(",") if r.strip()]
    if [r for r in rows if r not in ROWS]:
        ap.error(f"rows are {','.join(ROWS)}")
    if args.no_dvc or not args.dvc.exists():
        if not args.no_dvc:
            log(f"warning: no DVC at {args.dvc}; measuring git-ml and the references only")
        args.dvc = None
    else:
        args.dvc = str(args.dvc)
    args.gitml = str(args.gitml.resolve())
    args.repo = args.repo.resolve()
    if not Path(args.gitml).exists():
        ap.error(f"no git-ml binary at {args.gitml} (build it: cargo build --release)")

    global ENV
    ENV = make_env(Path(args.gitml))
    WORK.mkdir(parents=True, exist_ok=True)
    info = generate(args.repo, args.commits, args.gitml, args.dvc)
    checks = Checks(info["commits"])
    env_info = environment(args)
    env_info["generated_s"] = info.get("generated_s")
    log(f"records bench: {args.commits} commits, rows {','.join(rows)}; git-ml {env_info['gitml']} "
        f"({env_info['gitml_commit']}), DVC {env_info['dvc']}, {env_info['git']}")
    all_rows = rows_for(args, args.repo, checks)
    results = []
    t0 = time.perf_counter()
    for name in rows:
        log(f"\n== {name}: {DESCRIPTIONS[name]}")
        series = all_rows[name]
        measure(series, args.repo)
        results.append(summarize(name, series))
    env_info["loadavg_at_end"] = os.getloadavg()
    env_info["total_s"] = time.perf_counter() - t0

    t = table(results)
    head = (f"git-ml run records vs DVC, {args.commits} commits (each with a record), medians of "
            f"{args.runs} git-ml/git runs and {args.dvc_runs} DVC runs ({args.dvc_all_runs} for DVC over "
            f"all commits), interleaved, warm cache")
    where = (f"{env_info['date']}; {env_info['nproc']} cores, {env_info['kernel']}, {env_info['filesystem']}; "
             f"git-ml {env_info['gitml_commit']}; DVC {env_info['dvc']}; {env_info['git']}; "
             f"load average {env_info['loadavg_at_start'][0]:.2f} at start, {env_info['loadavg_at_end'][0]:.2f} at end")
    legend = ("DVC/git-ml: ratio of the medians (how many times faster git-ml is); git-ml times are of the "
              "binary run directly (the `through git` extras add git's dispatch); FAIL: git-ml gave a wrong result.")
    extras = [(r["row"], s) for r in results for s in r["series"] if s["role"] == "extra"]
    extra_lines = [f"({row}) {s['command']}: median {fmt_time(s['median_s'])}, min {fmt_time(s['min_s'])}"
                   f" ({s['runs']} runs)" + (f"; errors: {s['errors'][0][:200]}" if s["errors"] else "")
                   for row, s in extras]
    cpu_lines = [f"{r['row']}: " + ", ".join(f"{s['command']}: {s['median_cpu_s'] * 1000:.0f} ms"
                                              for s in r["series"] if s["median_cpu_s"] is not None)
                 for r in results]
    errs = [(r["row"], e) for r in results for e in r["errors"]]

    print()
    print(head)
    print(where)
    print()
    print(text_table(t))
    print(legend)
    for line in extra_lines:
        print("  " + line)
    if errs:
        print("\nErrors (a wrong result voids the time):")
        for row, e in errs:
            print(f"  {row}: {e[:600]}")

    out_json = args.out.with_suffix(".json")
    out_md = args.out.with_suffix(".md")
    out_json.write_text(json.dumps({"environment": env_info, "rows": results}, indent=1))
    md = [head + ".", "", where + ".", "", md_table(t), "", legend, ""]
    md += [f"- {line}" for line in extra_lines]
    md += ["", "Median CPU time (user+sys) per command:", ""] + [f"- {line}" for line in cpu_lines]
    if errs:
        md += ["", "Errors:", ""] + [f"- {row}: {e[:600]}" for row, e in errs]
    out_md.write_text("\n".join(md) + "\n")
    print(f"\nwrote {out_json} and {out_md}")
    return 1 if any(r["verdict"] == "FAIL" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
