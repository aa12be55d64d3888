#!/usr/bin/env python3
"""Write the seed corpus of every fuzz target into fuzz/corpus/<target>/.

Seeds are real inputs: the example project's gitml.toml, pointers and notes as git-ml writes
them, GitHub's own webhook payloads (@octokit/webhooks-examples, installed by
scripts/test-tools-github), DVC files as DVC writes them. The first byte of a seed selects a
variant where a target has several (see src/fuzz.rs). Run from the repository root:

    python3 fuzz/seeds.py
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
WEBHOOKS = os.path.join(
    ROOT,
    "target/test-tools/npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json",
)


def seed(target, data, variant=None):
    if isinstance(data, str):
        data = data.encode()
    if variant is not None:
        data = bytes([variant]) + data
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


OID = "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
BIN = os.environ.get("GITML_BIN", os.path.join(ROOT, "target/debug/git-ml"))


def read_abs(path):
    with open(path, "rb") as f:
        return f.read()


def sh(cwd, *args):
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True).stdout


def cache_object(repo, oid):
    algo, digest = oid.split(":", 1)
    return read_abs(os.path.join(repo, ".git/gitml/cache", algo, digest[:2], digest[2:]))


PIPELINE = """
[params]
files = ["params.yaml"]

[metrics]
files = ["m.json"]

[stages.prepare]
cmd = "cat d/sub/f0001.csv > prepared.txt"
deps = ["d"]
params = ["prepare"]
outs = ["prepared.txt"]

[stages.train]
cmd = "printf '{\\"acc\\": 0.9, \\"loss\\": 0.1}' > m.json"
deps = ["prepared.txt"]
params = ["train.lr"]
metrics = ["m.json"]
"""


def written_by_git_ml():
    """Pointers, manifests, a lock file and notes, as git-ml itself writes them."""
    if not os.path.exists(BIN):
        print(f"note: {BIN} missing (cargo build first): pointer, manifest, lock and note "
              "seeds from git-ml skipped", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as repo:
        repo = os.path.realpath(repo)
        sh(repo, "git", "init", "-q")
        sh(repo, BIN, "init", "-q")
        os.makedirs(os.path.join(repo, "d/sub"))
        os.makedirs(os.path.join(repo, "d/empty"))
        for i in range(1, 1200):
            with open(os.path.join(repo, f"d/sub/f{i:04}.csv"), "w") as f:
                f.write(f"{i}\n")
        os.symlink("sub/f0001.csv", os.path.join(repo, "d/link"))
        os.chmod(os.path.join(repo, "d/sub/f0002.csv"), 0o755)
        with open(os.path.join(repo, "model.bin"), "wb") as f:
            f.write(bytes(range(256)) * 16)
        with open(os.path.join(repo, "run.sh"), "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(os.path.join(repo, "run.sh"), 0o755)
        sh(repo, BIN, "add", "-q", "d", "model.bin", "run.sh")
        for p in ["d.gitml", "model.bin.gitml", "run.sh.gitml"]:
            seed("pointer", read_abs(os.path.join(repo, p)))
        # The directory's manifest: its root object, then each chunk, NUL-separated.
        text = read_abs(os.path.join(repo, "d.gitml")).decode()
        oid = [l.split('"')[1] for l in text.splitlines() if l.startswith("oid")][0]
        root = cache_object(repo, oid)
        chunks = [cache_object(repo, c["oid"]) for c in json.loads(root)["chunks"]]
        seed("manifest", b"\0".join([root] + chunks))
        seed("manifest", b"\0".join([root] + chunks[:1]))
        # A pipeline run writes gitml.lock; a record writes a note.
        with open(os.path.join(repo, "gitml.toml"), "a") as f:
            f.write(PIPELINE)
        with open(os.path.join(repo, "params.yaml"), "w") as f:
            f.write("prepare:\n  seed: 42\ntrain:\n  lr: 0.1\n  layers: [1, 2]\n")
        sh(repo, BIN, "run", "-q", "--no-record")
        seed("lockfile", read_abs(os.path.join(repo, "gitml.lock")))
        seed("config", read_abs(os.path.join(repo, "gitml.toml")))
        git = ["git", "-c", "user.name=Seed", "-c", "user.email=seed@example.com"]
        sh(repo, "git", "add", "-A")
        sh(repo, *git, "commit", "-qm", "seed")
        sh(repo, BIN, "record", "-q", "--param", "extra=1", "--tag", "seed=1")
        sh(repo, BIN, "record", "-q", "--metric", "acc=0.91")
        seed("note", sh(repo, "git", "notes", "--ref=refs/notes/gitml", "show", "HEAD"))


written_by_git_ml()

# gitml.toml: the example project's, and the shapes the docs show.
seed("config", read("templates/example/gitml.toml"))
seed(
    "config",
    """[core]
remote = "store"

[remotes.store]
url = "s3://bucket/prefix"
endpoint = "http://127.0.0.1:8333"

[metrics]
files = ["metrics.json"]
higher_is_better = ["acc"]

[gates.acc]
min = 0.8
max_drop = "2%"

[hooks]
pre_push = "push-data"
max_file_size = "10MiB"

[registry]
stages = ["staging", "prod"]
""",
)

# Notes: one run record per line.
run = {
    "id": "01J0000000000000000000000",
    "time": "2026-01-01T00:00:00Z",
    "source": {"kind": "local"},
    "command": "python train.py",
    "duration": 12.5,
    "metrics": {"acc": 0.91, "loss": "NaN", "eval.auc": 0.95},
    "params": {"train.n_estimators": 100, "train.kind": "rf"},
    "data": {"data/raw": OID},
    "models": {"churn": OID},
    "tags": {"seed": "1"},
}
seed("note", json.dumps(run) + "\n" + json.dumps({**run, "id": "b"}) + "\nnot json\n")
seed("note", json.dumps({**run, "source": {"kind": "ci", "provider": "github", "run_url": "https://x"}}))

# Metrics and params files; the first byte picks json, yaml, toml, yml.
seed("metrics", json.dumps({"acc": 0.9, "nested": {"f1": 0.8, "list": [1, 2]}, "n": None}), 0)
seed("metrics", "train:\n  n_estimators: 100\n  max_depth: 8\nprepare:\n  seed: 42\n", 1)
seed("metrics", "[train]\nn_estimators = 100\nlr = 1e-3\n", 2)
seed("metrics", "acc=0.91", 3)
seed("metrics", read("templates/example/params.yaml"), 1)

# Plot files; the first byte picks JSON, CSV, TSV, YAML.
seed("plots", json.dumps([{"fpr": 0.0, "tpr": 0.0}, {"fpr": 0.5, "tpr": 0.9}]), 0)
seed("plots", json.dumps({"roc": [{"x": 1, "y": 2}], "loss": [0.5, 0.4]}), 0)
seed("plots", "step,loss,acc\n0,1.0,0.5\n1,0.8,0.6\n2,0.6,0.7\n", 1)
seed("plots", "actual\tpredicted\ncat\tdog\ndog\tdog\n", 2)
seed("plots", "- {epoch: 1, loss: 0.5}\n- {epoch: 2, loss: 0.4}\n", 3)

# Tag names, GTO's format and others.
for t in [
    "churn@v1.2.3",
    "churn#prod#3",
    "churn#prod!#4",
    "churn@v1.0.0!#5",
    "churn@deprecated#6",
    "v1.0.0",
    "team/model@v0.0.1",
]:
    seed("tag", t)

# GitHub's own webhook payloads; the first byte picks the event name (src/fuzz.rs `event`).
NAMES = [
    "pull_request",
    "pull_request_target",
    "push",
    "workflow_run",
    "issue_comment",
    "workflow_dispatch",
    "schedule",
]
if os.path.exists(WEBHOOKS):
    with open(WEBHOOKS) as f:
        hooks = {h["name"]: h["examples"] for h in json.load(f)}
    for i, name in enumerate(NAMES):
        examples = hooks.get(name if name != "pull_request_target" else "pull_request", [])
        for ex in examples[:3]:
            seed("event", json.dumps(ex), i)
else:
    print(f"note: {WEBHOOKS} missing; run scripts/test-tools-github for event seeds", file=sys.stderr)
seed("event", json.dumps({"schedule": "0 3 * * *"}), 6)

# DVC files, as DVC 3 writes them; the first byte picks .dvc, dvc.lock, config, yaml, dvc.yaml.
seed("dvc", "outs:\n- md5: 3863d0e317dd0aeb4e5c0f1f2fb6f0b2\n  size: 14\n  hash: md5\n  path: data.csv\n", 0)
seed(
    "dvc",
    """schema: '2.0'
stages:
  train:
    cmd: python train.py
    deps:
    - path: data.csv
      hash: md5
      md5: 3863d0e317dd0aeb4e5c0f1f2fb6f0b2
      size: 14
    params:
      params.yaml:
        train.lr: 0.1
    outs:
    - path: model.pkl
      hash: md5
      md5: 5b4e5e3d1c2a0f9e8d7c6b5a49382716
      size: 100
""",
    1,
)
seed("dvc", "[core]\n    remote = store\n['remote \"store\"']\n    url = s3://bucket/path\n", 2)
seed("dvc", "train:\n  lr: 0.1\n  layers: [1, 2]\n", 3)
seed(
    "dvc",
    """vars:
  - seeds: [1, 2]
stages:
  train:
    foreach: ${seeds}
    do:
      cmd: python train.py --seed ${item}
      deps: [data.csv]
      outs: [model-${item}.pkl]
  eval:
    matrix:
      model: [a, b]
    cmd: python eval.py ${item.model}
    metrics:
      - metrics.json:
          cache: false
    plots:
      - roc.json:
          x: fpr
          y: tpr
""",
    4,
)
seed("dvc", json.dumps([{"md5": "3863d0e317dd0aeb4e5c0f1f2fb6f0b2", "relpath": "a/b.csv"}]), 0)

# Names on their way into Markdown, Mermaid and terminals.
for s in [
    "@octocat",
    "@org/team please look",
    "a|b",
    "<script>alert(1)</script>",
    "[x](https://evil.example)",
    "`code` **bold** #123",
    "evil\u202etxt",
    "x\x1b]0;title\x07",
    'ends"mermaid`',
    "line\nbreak\r",
]:
    seed("escape", s)

print(f"seeds written to {OUT}")
