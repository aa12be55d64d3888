#!/usr/bin/env python3
"""The pipeline benchmark: `git ml run` vs `dvc repro` vs `make` on a generated N-stage chain.

Stage i reads the output of stage i-1 (stage 1 reads `input.bin`, a few MiB of generated data) and
writes its own output with the same shell command in every tool:

    (cat PREV; echo NN) > sNN.bin

Four equivalent directories under bench/work/pipeline-<N>x<SIZE>MiB/ (regenerated on every run; the
input data is cached): `gitml/` (git repo, `git ml init`, `[stages.sNN]` in gitml.toml), `dvc/` (git
repo, `dvc init`, dvc.yaml), `make/` (a Makefile), `plain/` (a shell script running the N commands,
each through `sh -c` like the tools do: the stages' own run time).

Rows (timed runs interleaved tool by tool, in rotating order; medians):
  noop    everything reproduced: `git ml run --no-record`, `dvc repro`, `make`
  change  the first stage's input changed (content, untimed; a fresh nonce each round, so no run
          cache can hit): the whole chain reruns; overhead = tool time - plain script time
  touch   only the input's mtime changed: git-ml and DVC re-hash and skip, make reruns everything
  record  the default `git ml run` (records a run on HEAD) once per case, reported separately

Results: bench/work/pipeline-results.{md,json}. Run through bench/pipeline.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "work"


def say(msg: str) -> None:
    print(f"bench/pipeline: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Environment


def make_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = bench\n\temail = bench@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    dvc_global = home / ".config" / "dvc"
    dvc_global.mkdir(parents=True, exist_ok=True)
    (dvc_global / "config").write_text(
        "[core]\n    analytics = false\n    check_update = false\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITML_", "GIT_", "DVC_"))
    }
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        DVC_NO_ANALYTICS="1",
        LC_ALL="C",
    )
    return env


def must(cmd: list[str], cwd: Path, env: dict, capture: bool = False) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        raise SystemExit(
            f"bench/pipeline: `{' '.join(cmd)}` in {cwd} failed ({r.returncode}):\n"
            f"{r.stdout}\n{r.stderr}"
        )
    return r.stdout


# --------------------------------------------------------------------------------------------
# Setup


def stage_name(i: int) -> str:
    return f"s{i:02d}"


def stage_cmd(i: int) -> str:
    prev = "input.bin" if i == 1 else f"{stage_name(i - 1)}.bin"
    return f"(cat {prev}; echo {i:02d}) > {stage_name(i)}.bin"


def stage_dep(i: int) -> str:
    return "input.bin" if i == 1 else f"{stage_name(i - 1)}.bin"


def stage_out(i: int) -> str:
    return f"{stage_name(i)}.bin"


def base_input(base: Path, size_mib: float) -> bytes:
    """Deterministic pseudo-random data (cached)."""
    path = base / "input-base.bin"
    size = int(size_mib * (1 << 20))
    if not path.exists() or path.stat().st_size != size:
        rnd = random.Random(20)
        path.write_bytes(rnd.randbytes(size))
    return path.read_bytes()


def write_input(d: Path, data: bytes, nonce: str) -> None:
    """The input: the base data plus one line (a new nonce is a real content change)."""
    tmp = d / ".input.bin.tmp"
    tmp.write_bytes(data + f"nonce {nonce}\n".encode())
    os.replace(tmp, d / "input.bin")


def setup(base: Path, n: int, data: bytes, gitml: str, dvc: str | None, env: dict) -> dict:
    dirs = {t: base / t for t in ("gitml", "dvc", "make", "plain")}
    for t, d in dirs.items():
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        write_input(d, data, "initial")
    t0 = time.perf_counter()

    # git-ml
    d = dirs["gitml"]
    must(["git", "init", "-q"], d, env)
    must([gitml, "init"], d, env)
    with (d / "gitml.toml").open("a") as f:
        f.write("\n# The benchmark's chain (bench/pipeline.py).\n")
        for i in range(1, n + 1):
            f.write(
                f"\n[stages.{stage_name(i)}]\ncmd = {json.dumps(stage_cmd(i))}\n"
                f"deps = [{json.dumps(stage_dep(i))}]\nouts = [{json.dumps(stage_out(i))}]\n"
            )
    (d / ".gitignore").open("a").write("/input.bin\n")
    must(["git", "add", "gitml.toml", ".gitignore"], d, env)
    must(["git", "commit", "-qm", "pipeline"], d, env)
    must([gitml, "run", "--no-record"], d, env)
    must(["git", "add", "-A"], d, env)
    must(["git", "commit", "-qm", "reproduced"], d, env)

    # DVC
    if dvc:
        d = dirs["dvc"]
        must(["git", "init", "-q"], d, env)
        must([dvc, "init", "-q"], d, env)
        must([dvc, "config", "core.analytics", "false"], d, env)
        lines = ["stages:"]
        for i in range(1, n + 1):
            lines += [
                f"  {stage_name(i)}:",
                f"    cmd: {json.dumps(stage_cmd(i))}",
                "    deps:",
                f"      - {stage_dep(i)}",
                "    outs:",
                f"      - {stage_out(i)}",
            ]
        (d / "dvc.yaml").write_text("\n".join(lines) + "\n")
        (d / ".gitignore").write_text("/input.bin\n")
        must(["git", "add", "-A"], d, env)
        must(["git", "commit", "-qm", "pipeline"], d, env)
        must([dvc, "repro", "-q"], d, env)
        must(["git", "add", "-A"], d, env)
        must(["git", "commit", "-qm", "reproduced"], d, env)

    # make
    d = dirs["make"]
    mk = [f"all: {stage_out(n)}", ""]
    for i in range(1, n + 1):
        mk += [f"{stage_out(i)}: {stage_dep(i)}", f"\t{stage_cmd(i)}", ""]
    (d / "Makefile").write_text("\n".join(mk))
    must(["make", "-s"], d, env)

    # the plain script: the same commands, each through `sh -c` as the tools run them
    d = dirs["plain"]
    sh = ["set -e"] + [f"sh -c '{stage_cmd(i)}'" for i in range(1, n + 1)]
    (d / "run.sh").write_text("\n".join(sh) + "\n")
    must(["sh", "run.sh"], d, env)
    say(f"set up {n}-stage chains in {base} ({time.perf_counter() - t0:.1f} s)")
    return dirs


# --------------------------------------------------------------------------------------------
# Timing and checks


CPU: dict[str, list[float]] = {}


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict, cpu_key: str | None = None) -> float:
    """Wall seconds of one run; with cpu_key, its CPU seconds (user + sys of the tool and of
    everything it waited for: the stages' shells and commands) are appended to CPU[cpu_key]."""
    c0 = cpu_children()
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if cpu_key:
        CPU.setdefault(cpu_key, []).append(cpu_children() - c0)
    if r.returncode != 0:
        raise SystemExit(
            f"bench/pipeline: `{' '.join(cmd)}` in {cwd} failed ({r.returncode}):\n"
            f"{r.stderr.decode(errors='replace')}"
        )
    return dt


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_gitml_clean(d: Path, gitml: str, env: dict, n: int) -> list[str]:
    out = json.loads(must([gitml, "run", "--dry-run", "--json"], d, env))
    bad = [s["stage"] + ":" + s["outcome"] for s in out["stages"] if s["outcome"] != "skipped"]
    if len(out["stages"]) != n:
        bad.append(f"{len(out['stages'])} stages reported, expected {n}")
    return bad


def check_dvc_clean(d: Path, dvc: str, env: dict) -> list[str]:
    out = must([dvc, "status", "--json"], d, env).strip()
    st = json.loads(out or "{}")
    return [f"dvc status: {json.dumps(st)[:300]}"] if st else []


def check_make_clean(d: Path, env: dict) -> list[str]:
    r = subprocess.run(["make", "-q"], cwd=d, env=env)
    return [] if r.returncode == 0 else ["make -q: not up to date"]


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


OTHERS = "bench/bench.py|bench/records.py|bench.py --|records.py --"


def others_running() -> list[str]:
    r = subprocess.run(["pgrep", "-af", OTHERS], stdout=subprocess.PIPE, text=True)
    me = str(os.getpid())
    return [l[:160] for l in r.stdout.splitlines() if l and l.split()[0] != me]


def wait_idle(limit: float) -> dict:
    t0 = time.time()
    seen = others_running()
    while seen and time.time() - t0 < limit:
        say(f"other benchmarks running ({len(seen)}), waiting (up to {limit:.0f} s): {seen[0]}")
        time.sleep(30)
        seen = others_running()
    return {"waited_s": round(time.time() - t0), "still_running": seen}


def stats(xs: list[float]) -> dict:
    return {
        "n": len(xs),
        "median": statistics.median(xs),
        "min": min(xs),
        "max": max(xs),
        "runs": [round(x, 5) for x in xs],
    }


class Bench:
    def __init__(self, args, dirs, data, env):
        self.a = args
        self.dirs = dirs
        self.data = data
        self.env = env
        self.n = args.stages
        self.gitml = args.gitml
        self.dvc = args.dvc
        self.cmds = {
            "git-ml": [self.gitml, "run", "--no-record"],
            "dvc": [self.dvc, "repro"] if self.dvc else None,
            "make": ["make", "-s"],
            "plain": ["sh", "run.sh"],
        }
        self.dir_of = {"git-ml": dirs["gitml"], "dvc": dirs["dvc"], "make": dirs["make"],
                       "plain": dirs["plain"]}
        self.problems: list[str] = []

    def tools(self, r: int, fast: list[str], dvc_runs: int) -> list[str]:
        ts = list(fast)
        if self.dvc and r < dvc_runs:
            ts.append("dvc")
        k = r % len(ts)
        return ts[k:] + ts[:k]

    def verify(self, row: str, tools: list[str]) -> None:
        finals = {t: sha(self.dir_of[t] / stage_out(self.n)) for t in tools}
        if len(set(finals.values())) != 1:
            self.problems.append(f"{row}: final outputs differ: {finals}")
        bad = check_gitml_clean(self.dirs["gitml"], self.gitml, self.env, self.n)
        if bad:
            self.problems.append(f"{row}: git ml run --dry-run: not up to date: {bad}")
        if self.dvc and "dvc" in tools:
            bad = check_dvc_clean(self.dirs["dvc"], self.dvc, self.env)
            if bad:
                self.problems.append(f"{row}: {bad}")
        if "make" in tools:
            bad = check_make_clean(self.dirs["make"], self.env)
            if bad:
                self.problems.append(f"{row}: {bad}")

    def row_noop(self) -> dict:
        say("row noop: nothing to do")
        times: dict[str, list[float]] = {"git-ml": [], "dvc": [], "make": []}
        load0 = loadavg()
        for t in ("git-ml", "dvc", "make"):  # warm-up, untimed
            if self.cmds[t]:
                timed(self.cmds[t], self.dir_of[t], self.env)
        for r in range(max(self.a.runs, self.a.dvc_runs)):
            for t in self.tools(r, ["git-ml", "make"], self.a.dvc_runs):
                times[t].append(timed(self.cmds[t], self.dir_of[t], self.env, f"noop/{t}"))
        self.verify("noop", ["git-ml", "make"] + (["dvc"] if self.dvc else []))
        return {"times": {t: stats(v) for t, v in times.items() if v},
                "load": [load0, loadavg()]}

    def row_change(self) -> dict:
        say("row change: the first stage's input changed, the whole chain reruns")
        times: dict[str, list[float]] = {"git-ml": [], "dvc": [], "make": [], "plain": []}
        load0 = loadavg()
        stage_seconds = []
        for r in range(max(self.a.change_runs, self.a.dvc_change_runs)):
            nonce = f"{time.time_ns()}-{r}"
            ts = self.tools(r, ["git-ml", "make", "plain"], self.a.dvc_change_runs)
            for t in ts:
                write_input(self.dir_of[t], self.data, nonce)
            for t in ts:
                times[t].append(timed(self.cmds[t], self.dir_of[t], self.env, f"change/{t}"))
            finals = {t: sha(self.dir_of[t] / stage_out(self.n)) for t in ts}
            if len(set(finals.values())) != 1:
                self.problems.append(f"change round {r}: final outputs differ: {finals}")
            if r == 0:
                # The timed run must have rerun everything: check what the lock now says.
                lock = (self.dirs["gitml"] / "gitml.lock").read_text()
                if lock.count("[stages.") < self.n:
                    self.problems.append("change: gitml.lock lacks stages")
        # (Each round compared its final outputs above; DVC sat out the later rounds.)
        self.verify("change", ts)
        # One extra untimed-in-the-table run with --json: the stages' own seconds as git-ml sees them.
        nonce = f"{time.time_ns()}-json"
        write_input(self.dirs["gitml"], self.data, nonce)
        t0 = time.perf_counter()
        out = json.loads(must([self.gitml, "run", "--no-record", "--json"], self.dirs["gitml"],
                              self.env))
        wall = time.perf_counter() - t0
        outcomes = sorted({s["outcome"] for s in out["stages"]})
        if outcomes != ["ran"]:
            self.problems.append(f"change: --json run outcomes {outcomes}, expected all `ran`")
        stage_seconds = [s["seconds"] for s in out["stages"]]
        # Bring make/plain/dvc to the same input, so the final state matches everywhere.
        for t in ("make", "plain") + (("dvc",) if self.dvc else ()):
            write_input(self.dir_of[t], self.data, nonce)
            timed(self.cmds[t], self.dir_of[t], self.env)
        self.verify("change(final)", ["git-ml", "make", "plain"] + (["dvc"] if self.dvc else []))
        plain = statistics.median(times["plain"])
        res = {
            "times": {t: stats(v) for t, v in times.items() if v},
            "overhead": {
                t: statistics.median(times[t]) - plain for t in ("git-ml", "dvc", "make")
                if times[t]
            },
            "json_run": {"wall": wall, "sum_stage_seconds": sum(stage_seconds),
                         "stage_seconds": [round(x, 4) for x in stage_seconds]},
            "load": [load0, loadavg()],
        }
        return res

    def row_touch(self) -> dict:
        say("row touch: only the input's mtime changed")
        times: dict[str, list[float]] = {"git-ml": [], "dvc": [], "make": []}
        load0 = loadavg()
        for r in range(max(self.a.change_runs, self.a.dvc_change_runs)):
            ts = self.tools(r, ["git-ml", "make"], self.a.dvc_change_runs)
            for t in ts:
                os.utime(self.dir_of[t] / "input.bin")
            for t in ts:
                times[t].append(timed(self.cmds[t], self.dir_of[t], self.env, f"touch/{t}"))
        self.verify("touch", ["git-ml", "make"] + (["dvc"] if self.dvc else []))
        # git-ml must have skipped everything: check one more touch with --json.
        os.utime(self.dirs["gitml"] / "input.bin")
        out = json.loads(must([self.gitml, "run", "--no-record", "--json"], self.dirs["gitml"],
                              self.env))
        outcomes = sorted({s["outcome"] for s in out["stages"]})
        if outcomes != ["skipped"]:
            self.problems.append(f"touch: outcomes {outcomes}, expected all `skipped`")
        return {"times": {t: stats(v) for t, v in times.items() if v},
                "load": [load0, loadavg()], "gitml_outcomes": outcomes}

    def row_record(self) -> dict:
        """The default `git ml run` (records a run on HEAD when something ran)."""
        say("row record: default `git ml run` (with the record on HEAD)")
        d = self.dirs["gitml"]
        cmd = [self.gitml, "run"]
        change, noop, change_nr = [], [], []
        for r in range(self.a.record_runs):
            nonce = f"{time.time_ns()}-rec{r}"
            write_input(d, self.data, nonce)
            change.append(timed(cmd, d, self.env))
            noop.append(timed(cmd, d, self.env))
            write_input(d, self.data, nonce + "b")
            change_nr.append(timed(self.cmds["git-ml"], d, self.env))
        bad = check_gitml_clean(d, self.gitml, self.env, self.n)
        if bad:
            self.problems.append(f"record: not up to date afterwards: {bad}")
        return {"change": stats(change), "noop": stats(noop), "change_no_record": stats(change_nr)}


# --------------------------------------------------------------------------------------------
# Report


def ms(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x >= 0.0995 else f"{x * 1000:.1f} ms"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "-"


def report(res: dict) -> str:
    env = res["environment"]
    L = [
        "# Pipeline benchmark results",
        "",
        f"{env['date']}, git-ml {env['git_rev']} (binary built {env['gitml_binary']['built']}), {env['dvc']}, {env['make']}, "
        f"{env['stages']}-stage chain, input {env['size_mib']} MiB, `{env['stage_cmd']}`.",
        f"Machine: {env['machine']}. Load average at start {env['load_start']}, "
        f"others running at start: {len(env['others_at_start']['still_running'])}, "
        f"at end: {len(env['others_at_end'])}.",
        "",
        "| row | git ml run --no-record | dvc repro | make | plain script | dvc / git-ml | "
        "git-ml / make |",
        "|---|---|---|---|---|---|---|",
    ]

    def cell(row, t):
        s = row["times"].get(t)
        if not s:
            return "-"
        return f"{ms(s['median'])} (min {ms(s['min'])}, n={s['n']})"

    names = {"noop": "nothing to do", "change": "first input changed (all rerun)",
             "touch": "input touched (mtime only)"}
    for key in ("noop", "change", "touch"):
        row = res["rows"].get(key)
        if not row:
            continue
        med = {t: s["median"] for t, s in row["times"].items()}
        L.append(
            f"| {names[key]} | {cell(row, 'git-ml')} | {cell(row, 'dvc')} | {cell(row, 'make')} | "
            f"{cell(row, 'plain')} | "
            f"{ratio(med['dvc'], med['git-ml']) if 'dvc' in med else '-'} | "
            f"{ratio(med['git-ml'], med['make'])} |"
        )
    L += [
        "",
        "CPU time (user + sys of the tool and everything it ran; median of the same runs; less "
        "sensitive to other load than wall time):",
        "",
        "| row | git ml run --no-record | dvc repro | make | plain script |",
        "|---|---|---|---|---|",
    ]
    for key in ("noop", "change", "touch"):
        row = res["rows"].get(key)
        if not row or "cpu" not in row:
            continue
        L.append(f"| {names[key]} | " + " | ".join(
            ms(row["cpu"][t]["median"]) if t in row["cpu"] else "-"
            for t in ("git-ml", "dvc", "make", "plain")) + " |")
    ch = res["rows"].get("change")
    if ch and "cpu_overhead" in ch:
        L += ["", "CPU overhead in the change row (median tool CPU - median plain-script CPU): "
              + ", ".join(f"{t} {ms(v)}" for t, v in ch["cpu_overhead"].items()) + "."]
    if ch:
        o = ch["overhead"]
        L += [
            "",
            "Overhead in the change row (median tool time - median plain-script time): "
            + ", ".join(f"{t} {ms(v)}" for t, v in o.items())
            + (f"; dvc / git-ml {ratio(o['dvc'], o['git-ml'])}" if "dvc" in o else "")
            + (f"; git-ml / make {ratio(o['git-ml'], o['make'])}" if o.get("make", 0) > 0 else "")
            + ".",
            f"One `git ml run --no-record --json` of the change: wall {ms(ch['json_run']['wall'])}, "
            f"sum of the stages' `seconds` {ms(ch['json_run']['sum_stage_seconds'])}.",
        ]
    rec = res["rows"].get("record")
    if rec:
        L += [
            "",
            f"Default `git ml run` (records a run on HEAD): after a change "
            f"{ms(rec['change']['median'])} (n={rec['change']['n']}; `--no-record` in the same "
            f"rounds {ms(rec['change_no_record']['median'])}); nothing to do "
            f"{ms(rec['noop']['median'])}.",
        ]
    t = res["targets"]
    L += ["", "Targets:"]
    if "noop" in t:
        L.append(f"- nothing to do under 20 ms: {ms(t['noop']['value'])} -> "
                 f"{'met' if t['noop']['met'] else 'MISSED'}")
    if "overhead" in t:
        L.append(
            f"- overhead after changing the first dep under 100 ms: {ms(t['overhead']['value'])} "
            f"-> {'met' if t['overhead']['met'] else 'MISSED'}"
        )
    L += ["", "Problems: " + ("none" if not res["problems"] else "")]
    L += [f"- {p}" for p in res["problems"]]
    return "\n".join(L) + "\n"


def version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True).stdout.strip().splitlines()[0]
    except Exception:
        return "unavailable"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gitml", default=str(ROOT / "target" / "release" / "git-ml"))
    p.add_argument("--dvc", default=str(WORK / "venv" / "bin" / "dvc"))
    p.add_argument("--no-dvc", action="store_true")
    p.add_argument("--stages", type=int, default=20)
    p.add_argument("--size-mib", type=float, default=4,
                   help="input size (default 4 MiB; 0: only the one changing line)")
    p.add_argument("--runs", type=int, default=30, help="timed runs, noop row (git-ml, make)")
    p.add_argument("--dvc-runs", type=int, default=7, help="timed runs of dvc, noop row")
    p.add_argument("--change-runs", type=int, default=15,
                   help="timed runs, change and touch rows (git-ml, make, plain)")
    p.add_argument("--dvc-change-runs", type=int, default=5)
    p.add_argument("--record-runs", type=int, default=3)
    p.add_argument("--only", default="noop,change,touch,record")
    p.add_argument("--wait-idle", type=float, default=600,
                   help="wait up to this many seconds for other benchmarks (bench.py, records.py) "
                        "to finish before timing (default 600; 0: do not wait)")
    p.add_argument("--out", default=str(WORK / "pipeline-results"))
    a = p.parse_args()
    if a.no_dvc or not Path(a.dvc).exists():
        if not a.no_dvc:
            say(f"no DVC at {a.dvc}: leaving DVC out")
        a.dvc = None

    base = WORK / f"pipeline-{a.stages}x{a.size_mib:g}MiB"
    base.mkdir(parents=True, exist_ok=True)
    env = make_env(WORK / "pipeline-home")
    data = base_input(base, a.size_mib)
    dirs = setup(base, a.stages, data, a.gitml, a.dvc, env)

    waited = wait_idle(a.wait_idle) if a.wait_idle > 0 else {"waited_s": 0,
                                                             "still_running": others_running()}
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, stdout=subprocess.PIPE,
                         text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "Cargo.toml",
                            "Cargo.lock"], cwd=ROOT, stdout=subprocess.PIPE, text=True).stdout
    environment = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git_rev": rev + (" (+ uncommitted changes in src/)" if dirty.strip() else ""),
        "gitml_version": version([a.gitml, "--version"]),
        "gitml_binary": {
            "path": a.gitml,
            "built": datetime.datetime.fromtimestamp(
                Path(a.gitml).stat().st_mtime, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "sha256": hashlib.sha256(Path(a.gitml).read_bytes()).hexdigest()[:16],
        },
        "dvc": ("DVC " + version([a.dvc, "--version"])) if a.dvc else "no DVC",
        "make": version(["make", "--version"]),
        "machine": f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs",
        "stages": a.stages,
        "size_mib": a.size_mib,
        "stage_cmd": stage_cmd(2),
        "load_start": loadavg(),
        "others_at_start": waited,
        "dir": str(base),
    }
    say(f"timing (load {environment['load_start']}, others running: "
        f"{len(waited['still_running'])})")
    b = Bench(a, dirs, data, env)
    rows = {}
    only = a.only.split(",")
    for key in ("noop", "change", "touch", "record"):
        if key in only:
            rows[key] = getattr(b, f"row_{key}")()
            if "times" in rows[key]:
                say(f"  {key}: " + ", ".join(f"{t} {ms(s['median'])}"
                                             for t, s in rows[key]["times"].items()))
    for key, v in CPU.items():
        row, t = key.split("/")
        rows[row].setdefault("cpu", {})[t] = stats(v)
    if "change" in rows and "plain" in rows["change"].get("cpu", {}):
        plain = rows["change"]["cpu"]["plain"]["median"]
        rows["change"]["cpu_overhead"] = {
            t: s["median"] - plain for t, s in rows["change"]["cpu"].items() if t != "plain"
        }
    environment["load_end"] = loadavg()
    environment["others_at_end"] = others_running()
    targets = {}
    if "noop" in rows:
        v = rows["noop"]["times"]["git-ml"]["median"]
        targets["noop"] = {"value": v, "limit": 0.020, "met": v < 0.020}
    if "change" in rows:
        v = rows["change"]["overhead"]["git-ml"]
        targets["overhead"] = {"value": v, "limit": 0.100, "met": v < 0.100}
    res = {"environment": environment, "rows": rows, "targets": targets, "problems": b.problems}
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    md = report(res)
    out.with_suffix(".md").write_text(md)
    print(md)
    if b.problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
