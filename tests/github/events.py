#!/usr/bin/env python3
"""Builds GitHub event payloads (GITHUB_EVENT_PATH files, act's `-e`) from real webhook examples.

    python3 tests/github/events.py KIND --repo OWNER/NAME --api-url URL --server-url URL \\
        [--number N] [--head-sha SHA] [--base-sha SHA] [--head-ref REF] [--base-ref REF] \\
        [--default-branch B] [--merge-sha SHA] [--before SHA] [--fork-owner LOGIN] \\
        [--author LOGIN] [--ref REF] [-o FILE]

KIND is one of:
  pull_request.opened       a PR from a branch of the same repository
  pull_request.synchronize  new commits pushed to that PR (`before` = --before or --base-sha)
  pull_request.merged       action "closed" with merged: true, merge_commit_sha = --merge-sha
  pull_request.fork         a PR opened from a fork: head.repo.fork true, head.repo.full_name
                            = FORK_OWNER/NAME, author and sender = FORK_OWNER
  push                      a push of --head-sha to --ref (default refs/heads/DEFAULT_BRANCH)

The payloads start from @octokit/webhooks-examples (installed by scripts/test-tools-github; read
from the installed package, never copied into this repository) and substitute the repository,
users, SHAs, refs, PR number, and the API and web URLs everywhere they occur, including the many
`*_url` fields. Importable too: `build(kind, **options) -> dict`.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_EXAMPLES = ROOT / "target/test-tools/npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
KINDS = ("pull_request.opened", "pull_request.synchronize", "pull_request.merged", "pull_request.fork", "push")
SHA = re.compile(r"[0-9a-f]{40}")
ZERO = "0" * 40


class EventError(ValueError):
    pass


def load_examples(path: Path | None = None) -> dict:
    path = Path(path or DEFAULT_EXAMPLES)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise EventError(f"cannot read webhook examples {path}: {e.strerror}\n"
                         "hint: run scripts/test-tools-github (installs @octokit/webhooks-examples)")
    return {entry["name"]: entry["examples"] for entry in data}


def _pick(examples: dict, event: str, action: str | None, want=lambda x: True) -> dict:
    """The first example of that event/action with no installation or organization (the plainest)."""
    found = [x for x in examples.get(event, []) if (action is None or x.get("action") == action) and want(x)]
    if not found:
        raise EventError(f"no {event}/{action} example in @octokit/webhooks-examples")
    found.sort(key=lambda x: ("installation" in x) + ("organization" in x))
    return copy.deepcopy(found[0])


class Rewriter:
    """Rewrites every string in a payload: hosts, owner/name, SHAs, the PR number in URLs."""

    def __init__(self, api_url, server_url, old_owner, old_name, owner, name, shas, old_number=None, number=None):
        self.api_url = api_url.rstrip("/")
        self.server_url = server_url.rstrip("/")
        self.old_owner, self.old_name, self.owner, self.name = old_owner, old_name, owner, name
        self.shas = shas
        self.number_re = re.compile(rf"(/(?:pulls|pull|issues)/){old_number}(?=$|[/.#?])") if old_number else None
        self.number = number

    def string(self, s: str) -> str:
        if s.startswith("https://api.github.com"):
            s = self.api_url + s[len("https://api.github.com"):]
        elif s.startswith("https://github.com"):
            s = self.server_url + s[len("https://github.com"):]
        elif s.startswith("git://github.com/") or s.startswith("git@github.com:"):
            host = re.sub(r"^https?://", "", self.server_url)
            s = s.replace("github.com", host, 1)
        s = s.replace(f"{self.old_owner}/{self.old_name}", f"{self.owner}/{self.name}")
        s = re.sub(rf"(?<![\w-]){re.escape(self.old_owner)}(?![\w-])", self.owner, s)
        if s == self.old_name:
            s = self.name
        if self.number_re is not None:
            s = self.number_re.sub(lambda m: f"{m.group(1)}{self.number}", s)
        return SHA.sub(lambda m: self.shas.get(m.group(0), m.group(0)), s)

    def __call__(self, node):
        if isinstance(node, dict):
            return {k: self(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self(v) for v in node]
        if isinstance(node, str):
            return self.string(node)
        return node


def _check_sha(name, value):
    if not SHA.fullmatch(value or ""):
        raise EventError(f"--{name.replace('_', '-')} must be a 40-hex SHA, got {value!r}")


def build(kind: str, *, repo: str, api_url: str, server_url: str, number: int = 1,
          head_sha: str = "1" * 40, base_sha: str = "2" * 40, head_ref: str = "feature",
          base_ref: str | None = None, default_branch: str = "main", merge_sha: str = "4" * 40,
          before: str | None = None, fork_owner: str = "contributor", author: str | None = None,
          ref: str | None = None, examples: dict | None = None) -> dict:
    if kind not in KINDS:
        raise EventError(f"unknown event kind {kind!r}; one of {', '.join(KINDS)}")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo or ""):
        raise EventError(f"--repo must be OWNER/NAME, got {repo!r}")
    for n, v in (("head_sha", head_sha), ("base_sha", base_sha), ("merge_sha", merge_sha)):
        _check_sha(n, v)
    if before is not None:
        _check_sha("before", before)
    for n, v in (("api_url", api_url), ("server_url", server_url)):
        if not re.match(r"https?://", v or ""):
            raise EventError(f"--{n.replace('_', '-')} must be an http(s) URL, got {v!r}")
    examples = examples or load_examples()
    owner, name = repo.split("/")
    base_ref = base_ref or default_branch
    if kind == "push":
        return _push(examples, owner, name, api_url, server_url, head_sha, before or base_sha,
                     ref or f"refs/heads/{default_branch}", default_branch, author or owner)

    action = {"pull_request.opened": "opened", "pull_request.fork": "opened",
              "pull_request.synchronize": "synchronize", "pull_request.merged": "closed"}[kind]
    ex = _pick(examples, "pull_request", action)
    ex.pop("installation", None)
    ex.pop("organization", None)
    pr = ex["pull_request"]
    old_owner, old_name = ex["repository"]["owner"]["login"], ex["repository"]["name"]
    shas = {pr["head"]["sha"]: head_sha, pr["base"]["sha"]: base_sha}
    if pr.get("merge_commit_sha"):
        shas[pr["merge_commit_sha"]] = merge_sha
    if "before" in ex:
        shas.setdefault(ex["before"], before or base_sha)
    rw = Rewriter(api_url, server_url, old_owner, old_name, owner, name, shas, ex["number"], number)
    template_user = ex["repository"]["owner"]
    original_head_repo = ex["pull_request"]["head"]["repo"]
    ex = rw(ex)
    pr = ex["pull_request"]
    ex["number"] = pr["number"] = number
    pr["head"]["ref"], pr["base"]["ref"] = head_ref, base_ref
    pr["head"]["label"], pr["base"]["label"] = f"{owner}:{head_ref}", f"{owner}:{base_ref}"
    for r in (ex["repository"], pr["head"]["repo"], pr["base"]["repo"]):
        r["default_branch"] = default_branch
        if "master_branch" in r:
            r["master_branch"] = default_branch
    if kind == "pull_request.synchronize":
        ex["before"], ex["after"] = before or base_sha, head_sha
    if kind == "pull_request.merged":
        pr["state"], pr["merged"] = "closed", True
        pr["merged_at"] = pr["closed_at"]
        pr["merge_commit_sha"] = merge_sha
        pr["merged_by"] = copy.deepcopy(ex["sender"])
        pr["mergeable"], pr["rebaseable"], pr["mergeable_state"] = None, None, "unknown"
    elif kind != "pull_request.merged":
        pr["merge_commit_sha"] = None if action == "opened" else pr.get("merge_commit_sha")
    if kind == "pull_request.fork":
        fork_rw = Rewriter(api_url, server_url, old_owner, old_name, fork_owner, name, shas)
        head_repo = fork_rw(original_head_repo)
        head_repo["fork"] = True
        head_repo["id"] = ex["repository"]["id"] + 1
        head_repo["node_id"] = head_repo["node_id"][:-4] + "Fork"
        head_repo["default_branch"] = default_branch
        user = _user_like(fork_rw(template_user), fork_owner, template_user["id"] + 1)
        head_repo["owner"] = user
        pr["head"]["repo"] = head_repo
        pr["head"]["user"] = copy.deepcopy(user)
        pr["head"]["label"] = f"{fork_owner}:{head_ref}"
        pr["user"] = copy.deepcopy(user)
        pr["author_association"] = "FIRST_TIME_CONTRIBUTOR"
        pr["maintainer_can_modify"] = True
        ex["sender"] = copy.deepcopy(user)
    elif author and author != owner:
        a_rw = Rewriter(api_url, server_url, old_owner, old_name, author, name, shas)
        user = _user_like(a_rw(template_user), author, template_user["id"] + 2)
        pr["user"] = copy.deepcopy(user)
        ex["sender"] = copy.deepcopy(user)
        pr["author_association"] = "CONTRIBUTOR"
    return ex


def _user_like(user: dict, login: str, uid: int) -> dict:
    user = copy.deepcopy(user)
    user["login"], user["id"] = login, uid
    user["node_id"] = f"U_fake{uid}"
    user["avatar_url"] = f"https://avatars.githubusercontent.com/u/{uid}?v=4"
    return user


def _push(examples, owner, name, api_url, server_url, after, before, ref, default_branch, pusher):
    ex = _pick(examples, "push", None, lambda x: x.get("ref", "").startswith("refs/heads/") and x.get("commits"))
    ex.pop("installation", None)
    ex.pop("organization", None)
    old_owner, old_name = ex["repository"]["owner"]["login"], ex["repository"]["name"]
    rw = Rewriter(api_url, server_url, old_owner, old_name, owner, name, {ex["after"]: after})
    ex = rw(ex)
    ex["ref"], ex["before"], ex["after"] = ref, before, after
    ex["created"] = before == ZERO
    ex["base_ref"] = None
    ex["compare"] = f"{server_url.rstrip('/')}/{owner}/{name}/compare/{before[:12]}...{after[:12]}"
    for c in ex["commits"] + [ex["head_commit"]]:
        c["id"] = after
        c["url"] = f"{server_url.rstrip('/')}/{owner}/{name}/commit/{after}"
    ex["commits"] = ex["commits"][:1]
    ex["repository"]["default_branch"] = default_branch
    if "master_branch" in ex["repository"]:
        ex["repository"]["master_branch"] = default_branch
    ex["pusher"]["name"] = pusher
    return ex


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="kinds: " + ", ".join(KINDS))
    ap.add_argument("kind", help="event kind: " + ", ".join(KINDS))
    ap.add_argument("--repo", required=True, help="OWNER/NAME of the base repository")
    ap.add_argument("--api-url", required=True, help="GITHUB_API_URL (the fake server, e.g. http://127.0.0.1:PORT)")
    ap.add_argument("--server-url", required=True, help="GITHUB_SERVER_URL (used for html_url fields)")
    ap.add_argument("--number", type=int, default=1, help="PR number (default 1)")
    ap.add_argument("--head-sha", default="1" * 40)
    ap.add_argument("--base-sha", default="2" * 40)
    ap.add_argument("--head-ref", default="feature")
    ap.add_argument("--base-ref", help="default: --default-branch")
    ap.add_argument("--default-branch", default="main")
    ap.add_argument("--merge-sha", default="4" * 40, help="merge_commit_sha of pull_request.merged")
    ap.add_argument("--before", help="synchronize/push: the previous head (default: --base-sha)")
    ap.add_argument("--fork-owner", default="contributor", help="owner of the fork (pull_request.fork)")
    ap.add_argument("--author", help="PR author and sender (default: the repository owner)")
    ap.add_argument("--ref", help="push: the ref (default refs/heads/DEFAULT_BRANCH)")
    ap.add_argument("--examples", type=Path, help=f"webhook examples index.json (default {DEFAULT_EXAMPLES})")
    ap.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    a = ap.parse_args(argv)
    try:
        ev = build(a.kind, repo=a.repo, api_url=a.api_url, server_url=a.server_url, number=a.number,
                   head_sha=a.head_sha, base_sha=a.base_sha, head_ref=a.head_ref, base_ref=a.base_ref,
                   default_branch=a.default_branch, merge_sha=a.merge_sha, before=a.before,
                   fork_owner=a.fork_owner, author=a.author, ref=a.ref,
                   examples=load_examples(a.examples) if a.examples else None)
    except EventError as e:
        print(f"events.py: error: {e}", file=sys.stderr)
        return 2
    text = json.dumps(ev, indent=2) + "\n"
    if a.output:
        a.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
