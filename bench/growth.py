#!/usr/bin/env python3
"""How git-ml's cost grows with the work: the same command at two sizes, and the growth factor.

    python3 bench/growth.py                  # 10,000 -> 100,000 files; 1,000 -> 10,000 commits
    python3 bench/growth.py --quick          # 2,000 -> 20,000 files; 200 -> 2,000 commits
    python3 bench/growth.py --gitml PATH     # another build (default target/release/git-ml)

Rows (each at a small and a large size, the large one 10x the work):
- status_clean: `git ml status` of one tracked directory, nothing changed; `git status` of the
  same files committed to plain git alongside, as the reference for the same growth.
- status_one: the same after rewriting one file.
- add: `git ml add` of the directory into an empty cache (1 KiB files: per-file cost, not bytes).
- log: `git ml log` over the whole first-parent history (a metrics file per commit).
- diff: `git ml diff` of the first and the last commit (should not grow with the history).

The growth factor is large/small of the medians; "linear or better" means at most the work
factor (10x) times 1.25 for noise. Warm runs, interleaved, medians; the machine is shared, so
read the ratios, not the milliseconds. Everything lives under bench/work/growth (gitignored).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SLACK = 1.25


def sh(cmd: list[str], cwd: Path, env: dict, check: bool = True, stdin: bytes | None = None) -> int:
    p = subprocess.run(cmd, cwd=cwd, env=env, input=stdin, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} in {cwd} failed ({p.returncode}): {p.stderr.decode()[-800:]}")
    return p.returncode


def median_ms(cmd: list[str], cwd: Path, env: dict, runs: int, prepare=None, ok=(0,)) -> float:
    times = []
    for _ in range(runs):
        if prepare:
            prepare()
        t = time.perf_counter()
        rc = sh(cmd, cwd, env, check=False)
        times.append(time.perf_counter() - t)
        if rc not in ok:
            sys.exit(f"{' '.join(cmd)} exited {rc}")
    return statistics.median(times) * 1000


def files_repo(base: Path, n: int, env: dict, gitml: str) -> tuple[Path, Path]:
    """A git-ml repository tracking `data/` with n 1 KiB files in 100-file subdirectories, and a
    plain git repository with the same files committed."""
    repo, ref = base / f"files-{n}", base / f"files-{n}-git"
    if (repo / ".done").exists() and (ref / ".done").exists():
        return repo, ref
    for d in (repo, ref):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        sh(["git", "init", "-q"], d, env)
    rnd = os.urandom
    for i in range(n):
        sub = f"data/{i // 100:04}"
        for d in (repo, ref):
            (d / sub).mkdir(parents=True, exist_ok=True)
        content = rnd(1024)
        (repo / sub / f"{i:06}.bin").write_bytes(content)
        (ref / sub / f"{i:06}.bin").write_bytes(content)
    sh([gitml, "init", "-q"], repo, env)
    sh([gitml, "add", "-q", "data"], repo, env)
    for d in (repo, ref):
        sh(["git", "add", "-A"], d, env)
        sh(["git", "commit", "-qm", "data"], d, env)
        (d / ".done").write_text("")
    return repo, ref


def history_repo(base: Path, n: int, env: dict, gitml: str) -> Path:
    """n commits on main, each changing metrics.json, made with git fast-import."""
    repo = base / f"history-{n}"
    if (repo / ".done").exists():
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    sh(["git", "init", "-q"], repo, env)
    sh([gitml, "init", "-q"], repo, env)
    toml = (repo / "gitml.toml").read_text() + '\n[metrics]\nfiles = ["metrics.json"]\n'
    (repo / "gitml.toml").write_text(toml)
    sh(["git", "add", "-A"], repo, env)
    sh(["git", "commit", "-qm", "init"], repo, env)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    stream = []
    for i in range(n):
        body = f'{{"acc": {0.5 + i / (2 * n):.6f}, "loss": {1.0 - i / (2 * n):.6f}}}\n'.encode()
        msg = f"commit {i}".encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(f"committer T <t@example.com> {1735689600 + i * 3600} +0000\n".encode())
        stream.append(f"data {len(msg)}\n".encode() + msg + b"\n")
        if i == 0:
            stream.append(f"from {head}\n".encode())
        stream.append(f"M 100644 inline metrics.json\ndata {len(body)}\n".encode() + body + b"\n")
    sh(["git", "fast-import", "--quiet"], repo, env, stdin=b"".join(stream))
    sh(["git", "reset", "-q", "--hard", "main"], repo, env)
    (repo / ".done").write_text("")
    return repo


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gitml", default=str(ROOT / "target" / "release" / "git-ml"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None, help="timed runs per command (default 9; quick 5)")
    args = ap.parse_args()
    small_files, small_commits = (2_000, 200) if args.quick else (10_000, 1_000)
    runs = args.runs or (5 if args.quick else 9)
    base = HERE / "work" / "growth"
    base.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="T", GIT_COMMITTER_EMAIL="t@example.com", NO_COLOR="1")
    g = args.gitml
    rows = []
    results = {}
    for n in (small_files, small_files * 10):
        repo, ref = files_repo(base, n, env, g)
        touched = repo / "data" / "0000" / "000000.bin"
        original = touched.read_bytes()
        r = {}
        r["status_clean"] = median_ms([g, "status"], repo, env, runs)
        r["git_status"] = median_ms(["git", "status"], ref, env, runs)

        def touch():
            touched.write_bytes(os.urandom(1024))
        r["status_one"] = median_ms([g, "status"], repo, env, runs, prepare=touch, ok=(1,))
        touched.write_bytes(original)
        cache = repo / ".git" / "gitml" / "cache"

        def fresh_cache():
            shutil.rmtree(cache, ignore_errors=True)
            for p in (repo / ".git" / "gitml").glob("index*"):
                p.unlink()
            # The removal leaves dirty metadata behind; write it back before the clock starts
            # so the add is not charged for the previous run's deletes.
            os.sync()
        r["add"] = median_ms([g, "add", "-q", "data"], repo, env, max(3, runs // 3), prepare=fresh_cache)
        results[n] = r
    for n in (small_commits, small_commits * 10):
        repo = history_repo(base, n, env, g)
        results.setdefault(("h", n), {})["log"] = median_ms([g, "log"], repo, env, runs)
        results[("h", n)]["diff"] = median_ms([g, "diff", "main~" + str(n - 1), "main"], repo, env, runs)

    def row(name: str, small, large, unit: str):
        a, b = small[name], large[name]
        growth = b / a
        verdict = "linear or better" if growth <= 10 * SLACK else "**worse than linear**"
        rows.append((name, unit, a, b, growth, verdict))

    fs, fl = results[small_files], results[small_files * 10]
    for name in ("status_clean", "status_one", "add", "git_status"):
        row(name, fs, fl, f"{small_files:,} -> {small_files * 10:,} files")
    hs, hl = results[("h", small_commits)], results[("h", small_commits * 10)]
    for name in ("log", "diff"):
        row(name, hs, hl, f"{small_commits:,} -> {small_commits * 10:,} commits")
    print("| row | sizes | small (median) | large (median) | growth | |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, unit, a, b, growth, verdict in rows:
        print(f"| {name} | {unit} | {a:.1f} ms | {b:.1f} ms | {growth:.2f}x | {verdict} |")
    print(f"\nstatus_clean against git status: {fs['status_clean'] / fs['git_status']:.2f}x "
          f"at {small_files:,} files, {fl['status_clean'] / fl['git_status']:.2f}x at {small_files * 10:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
