#!/usr/bin/env python3
"""A fake GitHub REST API on loopback, for the tests of git-ml's GitHub Action and `git ml ci`.

    python3 tests/github/fake_github.py --port 0 --state STATE.json --ready READY_FILE

Listens on 127.0.0.1 (``--port 0`` picks a free port), then writes the port to READY_FILE (written
whole, by rename, so a reader never sees a partial number). Python 3.11 standard library only.

The responses have the shapes api.github.com sends (field sets from GitHub's OpenAPI description,
checked by tests/github/check_shapes.py). See tests/github/README.md for the endpoints, the state
format, fault injection and the ``/_fake/`` control API.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import fnmatch
import http.server
import json
import os
import secrets
import signal
import sys
import threading
import time
import traceback
import urllib.parse

DOCS = {
    "users/get-authenticated": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
    "issues/list-comments": "https://docs.github.com/rest/issues/comments#list-issue-comments",
    "issues/create-comment": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
    "issues/get-comment": "https://docs.github.com/rest/issues/comments#get-an-issue-comment",
    "issues/update-comment": "https://docs.github.com/rest/issues/comments#update-an-issue-comment",
    "repos/create-commit-status": "https://docs.github.com/rest/commits/statuses#create-a-commit-status",
    "repos/list-commit-statuses-for-ref": "https://docs.github.com/rest/commits/statuses#list-commit-statuses-for-a-reference",
    "repos/list-pull-requests-associated-with-commit": "https://docs.github.com/rest/commits/commits#list-pull-requests-associated-with-a-commit",
    "pulls/get": "https://docs.github.com/rest/pulls/pulls#get-a-pull-request",
}
DOC_ROOT = "https://docs.github.com/rest"
RATE_DOC = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit and have been temporarily blocked from content"
    " creation. Please retry your request again later. If you reach out to GitHub Support for"
    " help, please include the request ID {request_id}."
)
MAX_COMMENT = 65536  # characters, as GitHub counts them (code points)
MAX_STATUS_DESCRIPTION = 140
STATUS_STATES = ("error", "failure", "pending", "success")
MAX_BODY_BYTES = 8 * 1024 * 1024
RATE_LIMIT = 5000

# github-actions[bot], the author of everything an Actions GITHUB_TOKEN writes (real values).
ACTIONS_BOT = {"login": "github-actions[bot]", "id": 41898282, "node_id": "MDM6Qm90NDE4OTgyODI=",
               "type": "Bot", "app_id": 15368}
ACTIONS_APP_ID = 15368


class StateError(ValueError):
    """The seeded state is malformed; the message says where."""


class ApiError(Exception):
    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(body.get("message"))
        self.status = status
        self.body = body
        self.headers = headers or {}


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(prefix: str, number: int) -> str:
    raw = number.to_bytes(8, "big")
    return prefix + "_kwDO" + base64.b64encode(raw).decode().rstrip("=").replace("+", "-").replace("/", "_")


def error(status: int, message: str, doc: str | None = None, errors: list | None = None,
          headers: dict | None = None) -> ApiError:
    if status == 422:
        # validation-error in the description names no "status" key (basic-error does)
        body = {"message": message, "documentation_url": doc or DOC_ROOT}
        if errors is not None:
            body = {"message": message, "errors": errors, "documentation_url": doc or DOC_ROOT}
    else:
        body = {"message": message, "documentation_url": doc or DOC_ROOT, "status": str(status)}
    return ApiError(status, body, headers)


def not_found(doc: str | None = None) -> ApiError:
    return error(404, "Not Found", doc)


def _req(d: dict, key: str, kind, where: str):
    if key not in d:
        raise StateError(f"{where}: missing {key!r}")
    v = d[key]
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise StateError(f"{where}: {key!r} must be {getattr(kind, '__name__', kind)}, got {v!r}")
    return v


def _opt(d: dict, key: str, kind, default, where: str):
    if key not in d or d[key] is None:
        return default
    v = d[key]
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise StateError(f"{where}: {key!r} must be {getattr(kind, '__name__', kind)}, got {v!r}")
    return v


def _full_name(v, where: str) -> str:
    if not isinstance(v, str) or v.count("/") != 1 or not all(v.split("/")):
        raise StateError(f"{where}: repository must be 'owner/name', got {v!r}")
    return v


class State:
    """Everything the fake knows. One lock guards it; handlers hold it for a whole request."""

    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        self.server_url = "https://github.com"
        self.api_url = None  # None: taken from the request's Host header
        self.users: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.repos: dict[str, dict] = {}
        self.pulls: dict[tuple[str, int], dict] = {}
        self.issues: set[tuple[str, int]] = set()
        self.comments: dict[int, dict] = {}
        self.statuses: list[dict] = []
        self.faults: list[dict] = []
        self.requests: list[dict] = []
        self.seq = 0
        self.rate_used: dict[str, int] = {}
        self.next_user_id = 1000001
        self.next_repo_id = 900000001
        self.next_pr_id = 2100000001
        self.next_comment_id = 3000000001  # past 2^31, as real comment ids are
        self.next_status_id = 35000000001

    # ---- seeding -------------------------------------------------------------------------

    def load(self, data, merge: bool):
        if not isinstance(data, dict):
            raise StateError("state: the top level must be a JSON object")
        known = {"server_url", "api_url", "users", "tokens", "repos", "pulls", "issues", "comments",
                 "statuses", "faults"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise StateError(f"state: unknown key(s) {unknown}; known: {sorted(known)}")
        if not merge:
            self.reset()
        if "server_url" in data:
            self.server_url = _req(data, "server_url", str, "state").rstrip("/")
        if "api_url" in data:
            self.api_url = _opt(data, "api_url", str, None, "state")
            if self.api_url:
                self.api_url = self.api_url.rstrip("/")
        for login, spec in _opt(data, "users", dict, {}, "state").items():
            self._seed_user(login, spec, f"state.users[{login!r}]")
        for token, spec in _opt(data, "tokens", dict, {}, "state").items():
            self._seed_token(token, spec, f"state.tokens[{token[:6]!r}...]")
        for full, spec in _opt(data, "repos", dict, {}, "state").items():
            self._seed_repo(full, spec, f"state.repos[{full!r}]")
        for i, spec in enumerate(_opt(data, "pulls", list, [], "state")):
            self._seed_pull(spec, f"state.pulls[{i}]")
        for i, spec in enumerate(_opt(data, "issues", list, [], "state")):
            where = f"state.issues[{i}]"
            if not isinstance(spec, dict):
                raise StateError(f"{where}: must be an object {{repo, number}}")
            full = _full_name(spec.get("repo"), where)
            self.repo(full)
            self.issues.add((full, _req(spec, "number", int, where)))
        for i, spec in enumerate(_opt(data, "comments", list, [], "state")):
            self._seed_comment(spec, f"state.comments[{i}]")
        for i, spec in enumerate(_opt(data, "statuses", list, [], "state")):
            self._seed_status(spec, f"state.statuses[{i}]")
        for i, spec in enumerate(_opt(data, "faults", list, [], "state")):
            self.faults.append(self._parse_fault(spec, f"state.faults[{i}]"))

    def user(self, login: str, spec: dict | None = None) -> dict:
        u = self.users.get(login)
        if u is None:
            if login == ACTIONS_BOT["login"]:
                u = dict(ACTIONS_BOT)
            else:
                u = {"login": login, "id": self.next_user_id, "type": "Bot" if login.endswith("[bot]") else "User"}
                self.next_user_id += 1
                u["node_id"] = node_id("U" if u["type"] == "User" else "BOT", u["id"])
            u.setdefault("site_admin", False)
            u.setdefault("name", None)
            u.setdefault("email", None)
            u.setdefault("created_at", "2020-01-01T00:00:00Z")
            self.users[login] = u
        if spec:
            u.update(spec)
        return u

    def _seed_user(self, login, spec, where):
        if not isinstance(spec, dict):
            raise StateError(f"{where}: must be an object")
        allowed = {"id", "node_id", "type", "site_admin", "name", "email", "created_at"}
        bad = sorted(set(spec) - allowed)
        if bad:
            raise StateError(f"{where}: unknown key(s) {bad}; known: {sorted(allowed)}")
        if "type" in spec and spec["type"] not in ("User", "Bot", "Organization"):
            raise StateError(f"{where}: type must be User, Bot or Organization")
        self.user(login, spec)

    def _seed_token(self, token, spec, where):
        if not isinstance(spec, dict):
            raise StateError(f"{where}: must be an object {{login, kind, write}}")
        kind = _opt(spec, "kind", str, "user", where)
        if kind not in ("user", "integration"):
            raise StateError(f"{where}: kind must be 'user' or 'integration', got {kind!r}")
        login = _opt(spec, "login", str, ACTIONS_BOT["login"] if kind == "integration" else None, where)
        if login is None:
            raise StateError(f"{where}: a user token needs a 'login'")
        t = {"login": login, "kind": kind, "write": _opt(spec, "write", bool, True, where),
             "admin": _opt(spec, "admin", bool, False, where),
             "name": _opt(spec, "name", str, login, where)}
        self.user(login)
        self.tokens[token] = t

    def repo(self, full: str, spec: dict | None = None) -> dict:
        r = self.repos.get(full)
        if r is None:
            owner, name = full.split("/")
            r = {"full_name": full, "owner": owner, "name": name, "id": self.next_repo_id,
                 "default_branch": "main", "private": False, "fork": False, "description": None,
                 "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z",
                 "pushed_at": "2020-01-01T00:00:00Z"}
            r["node_id"] = node_id("R", r["id"])
            self.next_repo_id += 1
            self.repos[full] = r
            self.user(owner)
        if spec:
            r.update(spec)
        return r

    def _seed_repo(self, full, spec, where):
        _full_name(full, where)
        if not isinstance(spec, dict):
            raise StateError(f"{where}: must be an object")
        allowed = {"id", "default_branch", "private", "fork", "description", "created_at", "updated_at", "pushed_at"}
        bad = sorted(set(spec) - allowed)
        if bad:
            raise StateError(f"{where}: unknown key(s) {bad}; known: {sorted(allowed)}")
        self.repo(full, spec)

    def _seed_pull(self, spec, where):
        if not isinstance(spec, dict):
            raise StateError(f"{where}: must be an object")
        full = _full_name(spec.get("repo"), where)
        base_repo = self.repo(full)
        number = _req(spec, "number", int, where)
        head = _req(spec, "head", dict, where)
        base = _opt(spec, "base", dict, {}, where)
        head_full = _full_name(head.get("repo", full), where + ".head")
        if head_full != full and head_full not in self.repos:
            self.repo(head_full, {"fork": True})
        user = _opt(spec, "user", str, head_full.split("/")[0], where)
        self.user(user)
        state = _opt(spec, "state", str, "open", where)
        if state not in ("open", "closed"):
            raise StateError(f"{where}: state must be 'open' or 'closed'")
        merged = _opt(spec, "merged", bool, False, where)
        if merged:
            state = "closed"
        created = _opt(spec, "created_at", str, now_iso(), where)
        pr = {
            "repo": full, "number": number,
            "id": _opt(spec, "id", int, self.next_pr_id, where),
            "title": _opt(spec, "title", str, f"Pull request {number}", where),
            "body": _opt(spec, "body", str, None, where),
            "user": user, "state": state, "locked": _opt(spec, "locked", bool, False, where),
            "draft": _opt(spec, "draft", bool, False, where),
            "head": {"ref": _req(head, "ref", str, where + ".head"), "sha": _req(head, "sha", str, where + ".head"),
                     "repo": head_full},
            "base": {"ref": _opt(base, "ref", str, base_repo["default_branch"], where + ".base"),
                     "sha": _opt(base, "sha", str, "0" * 40, where + ".base"), "repo": full},
            "merged": merged,
            "merge_commit_sha": _opt(spec, "merge_commit_sha", str, None, where),
            "merged_by": _opt(spec, "merged_by", str, user if merged else None, where),
            "created_at": created, "updated_at": _opt(spec, "updated_at", str, created, where),
            "closed_at": _opt(spec, "closed_at", str, created if state == "closed" else None, where),
            "merged_at": _opt(spec, "merged_at", str, created if merged else None, where),
            "commits": _opt(spec, "commits", list, [], where),
            "author_association": _opt(spec, "author_association", str, "CONTRIBUTOR", where),
        }
        if pr["merged_by"]:
            self.user(pr["merged_by"])
        for c in pr["commits"]:
            if not isinstance(c, str):
                raise StateError(f"{where}.commits: must be a list of SHA strings")
        if "id" not in spec:
            self.next_pr_id += 1
        self.pulls[(full, number)] = pr
        self.issues.add((full, number))

    def _seed_comment(self, spec, where):
        if not isinstance(spec, dict):
            raise StateError(f"{where}: must be an object")
        full = _full_name(spec.get("repo"), where)
        self.repo(full)
        issue = _req(spec, "issue", int, where)
        self.issues.add((full, issue))
        user = _req(spec, "user", str, where)
        self.user(user)
        body = _opt(spec, "body", str, "", where)
        repeat = _opt(spec, "repeat", int, 1, where)
        if not 1 <= repeat <= 10000:
            raise StateError(f"{where}: repeat must be 1..10000")
        created = _opt(spec, "created_at", str, now_iso(), where)
        for n in range(1, repeat + 1):
            cid = _opt(spec, "id", int, None, where) if repeat == 1 else None
            if cid is None:
                cid = self.next_comment_id
                self.next_comment_id += 1
            else:
                self.next_comment_id = max(self.next_comment_id, cid + 1)
            self.comments[cid] = {"id": cid, "repo": full, "issue": issue, "user": user,
                                  "body": body.replace("{n}", str(n)), "created_at": created,
                                  "updated_at": _opt(spec, "updated_at", str, created, where),
                                  "app": self.users[user]["type"] == "Bot"}

    def _seed_status(self, spec, where):
        if not isinstance(spec, dict):
            raise StateError(f"{where}: must be an object")
        full = _full_name(spec.get("repo"), where)
        self.repo(full)
        creator = _opt(spec, "creator", str, ACTIONS_BOT["login"], where)
        self.user(creator)
        self._add_status(full, _req(spec, "sha", str, where), _req(spec, "state", str, where),
                         spec.get("target_url"), spec.get("description"),
                         _opt(spec, "context", str, "default", where), creator)

    def _parse_fault(self, spec, where) -> dict:
        if not isinstance(spec, dict):
            raise StateError(f"{where}: must be an object {{method, path, kind, count}}")
        kind = _req(spec, "kind", str, where)
        kinds = ("primary", "secondary", "status", "delay")
        if kind.isdigit():
            spec = dict(spec, kind="status", status=int(kind))
            kind = "status"
        if kind not in kinds:
            raise StateError(f"{where}: kind must be one of {kinds} or an HTTP status like '502'")
        f = {"method": _opt(spec, "method", str, "*", where).upper(),
             "path": _req(spec, "path", str, where),
             "kind": kind,
             "count": _opt(spec, "count", int, 1, where),
             "skip": _opt(spec, "skip", int, 0, where),
             "status": _opt(spec, "status", int, {"primary": 403, "secondary": 403, "status": 502}.get(kind, 0), where),
             "retry_after": _opt(spec, "retry_after", int, 60, where),
             "reset_in": _opt(spec, "reset_in", int, 60, where),
             "seconds": spec.get("seconds", 1),
             "message": _opt(spec, "message", str, None, where),
             "hits": 0}
        if not isinstance(f["seconds"], (int, float)) or not 0 <= f["seconds"] <= 30:
            raise StateError(f"{where}: seconds must be a number 0..30")
        return f

    # ---- records -------------------------------------------------------------------------

    def _add_status(self, full, sha, state, target_url, description, context, creator) -> dict:
        now = now_iso()
        st = {"id": self.next_status_id, "repo": full, "sha": sha, "state": state,
              "target_url": target_url, "description": description, "context": context,
              "creator": creator, "created_at": now, "updated_at": now}
        self.next_status_id += 1
        self.statuses.append(st)
        return st

    def snapshot(self) -> dict:
        return {k: (v if k in ("lock", "requests") else copy.deepcopy(v)) for k, v in self.__dict__.items()}

    def restore(self, snap: dict):
        self.__dict__.update(snap)

    def dump(self) -> dict:
        return {
            "server_url": self.server_url,
            "api_url": self.api_url,
            "users": copy.deepcopy(self.users),
            "tokens": {k: dict(v) for k, v in self.tokens.items()},
            "repos": copy.deepcopy(self.repos),
            "pulls": [copy.deepcopy(p) for _, p in sorted(self.pulls.items())],
            "issues": [{"repo": r, "number": n} for r, n in sorted(self.issues)],
            "comments": [dict(c) for _, c in sorted(self.comments.items())],
            "statuses": [dict(s) for s in self.statuses],
            "faults": [dict(f, remaining=max(0, f["count"] - max(0, f["hits"] - f["skip"]))) for f in self.faults],
        }


# ---- JSON shapes ---------------------------------------------------------------------------

class Shapes:
    """Builds response objects. `api` is the API base URL, `web` the server (html) URL."""

    def __init__(self, st: State, api: str):
        self.st = st
        self.api = api
        self.web = st.server_url

    def simple_user(self, login: str) -> dict:
        u = self.st.user(login)
        q = urllib.parse.quote(login, safe="")
        base = f"{self.api}/users/{q}"
        if u["type"] == "Bot" and u.get("app_id"):
            avatar = f"https://avatars.githubusercontent.com/in/{u['app_id']}?v=4"
            html = f"{self.web}/apps/{login[:-len('[bot]')] if login.endswith('[bot]') else q}"
        else:
            avatar = f"https://avatars.githubusercontent.com/u/{u['id']}?v=4"
            html = f"{self.web}/{q}"
        return {
            "login": login, "id": u["id"], "node_id": u["node_id"], "avatar_url": avatar,
            "gravatar_id": "", "url": base, "html_url": html,
            "followers_url": f"{base}/followers",
            "following_url": f"{base}/following{{/other_user}}",
            "gists_url": f"{base}/gists{{/gist_id}}",
            "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{base}/subscriptions",
            "organizations_url": f"{base}/orgs",
            "repos_url": f"{base}/repos",
            "events_url": f"{base}/events{{/privacy}}",
            "received_events_url": f"{base}/received_events",
            "type": u["type"], "user_view_type": "public", "site_admin": bool(u["site_admin"]),
        }

    def private_user(self, login: str) -> dict:
        u = self.st.user(login)
        d = self.simple_user(login)
        d.update({
            "user_view_type": "private",
            "name": u.get("name"), "company": None, "blog": "", "location": None,
            "email": u.get("email"), "notification_email": u.get("email"), "hireable": None,
            "bio": None, "twitter_username": None, "public_repos": 1, "public_gists": 0,
            "followers": 0, "following": 0, "created_at": u["created_at"],
            "updated_at": u["created_at"], "private_gists": 0, "total_private_repos": 0,
            "owned_private_repos": 0, "disk_usage": 0, "collaborators": 0,
            "two_factor_authentication": True,
            "plan": {"name": "free", "space": 976562499, "collaborators": 0, "private_repos": 10000},
        })
        return d

    def actions_app(self) -> dict:
        owner = self.st.user("github")
        if owner["type"] != "Organization":
            owner.update({"type": "Organization", "id": 9919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjk5MTk="})
        return {
            "id": ACTIONS_APP_ID, "client_id": "Iv1.05c79e9ad1f6bdfa", "slug": "github-actions",
            "node_id": "MDM6QXBwMTUzNjg=", "owner": self.simple_user("github"), "name": "GitHub Actions",
            "description": "Automate your workflow from idea to production",
            "external_url": "https://help.github.com/en/actions",
            "html_url": f"{self.web}/apps/github-actions",
            "created_at": "2018-07-30T09:30:17Z", "updated_at": "2024-04-10T20:33:16Z",
            "permissions": {"actions": "write", "checks": "write", "contents": "write",
                            "issues": "write", "metadata": "read", "pull_requests": "write",
                            "statuses": "write"},
            "events": ["check_run", "check_suite", "issue_comment", "pull_request", "push",
                       "workflow_dispatch", "workflow_run"],
        }

    def comment(self, c: dict) -> dict:
        full, n, cid = c["repo"], c["issue"], c["id"]
        kind = "pull" if (full, n) in self.st.pulls else "issues"
        owner = full.split("/")[0]
        u = self.st.user(c["user"])
        assoc = "OWNER" if c["user"] == owner else ("NONE" if u["type"] == "Bot" else "CONTRIBUTOR")
        return {
            "url": f"{self.api}/repos/{full}/issues/comments/{cid}",
            "html_url": f"{self.web}/{full}/{kind}/{n}#issuecomment-{cid}",
            "issue_url": f"{self.api}/repos/{full}/issues/{n}",
            "id": cid, "node_id": node_id("IC", cid),
            "user": self.simple_user(c["user"]),
            "created_at": c["created_at"], "updated_at": c["updated_at"],
            "body": c["body"], "author_association": assoc,
            "reactions": {"url": f"{self.api}/repos/{full}/issues/comments/{cid}/reactions",
                          "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
                          "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
            "performed_via_github_app": self.actions_app() if c.get("app") and c["user"] == ACTIONS_BOT["login"] else None,
            "pin": None, "minimized": None,
        }

    def status(self, s: dict) -> dict:
        creator = self.simple_user(s["creator"])
        return {
            "url": f"{self.api}/repos/{s['repo']}/statuses/{s['sha']}",
            "avatar_url": creator["avatar_url"], "id": s["id"], "node_id": node_id("SC", s["id"]),
            "state": s["state"], "description": s["description"], "target_url": s["target_url"],
            "context": s["context"], "created_at": s["created_at"], "updated_at": s["updated_at"],
            "creator": creator,
        }

    def repository(self, full: str) -> dict:
        r = self.st.repo(full)
        a = f"{self.api}/repos/{full}"
        host = urllib.parse.urlsplit(self.web).netloc or "github.com"
        return {
            "id": r["id"], "node_id": r["node_id"], "name": r["name"], "full_name": full,
            "private": r["private"], "owner": self.simple_user(r["owner"]),
            "html_url": f"{self.web}/{full}", "description": r["description"], "fork": r["fork"],
            "url": a, "forks_url": f"{a}/forks", "keys_url": f"{a}/keys{{/key_id}}",
            "collaborators_url": f"{a}/collaborators{{/collaborator}}", "teams_url": f"{a}/teams",
            "hooks_url": f"{a}/hooks", "issue_events_url": f"{a}/issues/events{{/number}}",
            "events_url": f"{a}/events", "assignees_url": f"{a}/assignees{{/user}}",
            "branches_url": f"{a}/branches{{/branch}}", "tags_url": f"{a}/tags",
            "blobs_url": f"{a}/git/blobs{{/sha}}", "git_tags_url": f"{a}/git/tags{{/sha}}",
            "git_refs_url": f"{a}/git/refs{{/sha}}", "trees_url": f"{a}/git/trees{{/sha}}",
            "statuses_url": f"{a}/statuses/{{sha}}", "languages_url": f"{a}/languages",
            "stargazers_url": f"{a}/stargazers", "contributors_url": f"{a}/contributors",
            "subscribers_url": f"{a}/subscribers", "subscription_url": f"{a}/subscription",
            "commits_url": f"{a}/commits{{/sha}}", "git_commits_url": f"{a}/git/commits{{/sha}}",
            "comments_url": f"{a}/comments{{/number}}", "issue_comment_url": f"{a}/issues/comments{{/number}}",
            "contents_url": f"{a}/contents/{{+path}}", "compare_url": f"{a}/compare/{{base}}...{{head}}",
            "merges_url": f"{a}/merges", "archive_url": f"{a}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{a}/downloads", "issues_url": f"{a}/issues{{/number}}",
            "pulls_url": f"{a}/pulls{{/number}}", "milestones_url": f"{a}/milestones{{/number}}",
            "notifications_url": f"{a}/notifications{{?since,all,participating}}",
            "labels_url": f"{a}/labels{{/name}}", "releases_url": f"{a}/releases{{/id}}",
            "deployments_url": f"{a}/deployments",
            "created_at": r["created_at"], "updated_at": r["updated_at"], "pushed_at": r["pushed_at"],
            "git_url": f"git://{host}/{full}.git", "ssh_url": f"git@{host}:{full}.git",
            "clone_url": f"{self.web}/{full}.git", "svn_url": f"{self.web}/{full}",
            "homepage": None, "size": 0, "stargazers_count": 0, "watchers_count": 0,
            "language": None, "has_issues": True, "has_projects": True, "has_downloads": True,
            "has_wiki": True, "has_pages": False, "has_discussions": False, "forks_count": 0,
            "mirror_url": None, "archived": False, "disabled": False, "open_issues_count": 0,
            "license": None, "allow_forking": True, "is_template": False,
            "web_commit_signoff_required": False, "topics": [],
            "visibility": "private" if r["private"] else "public",
            "forks": 0, "open_issues": 0, "watchers": 0, "default_branch": r["default_branch"],
        }

    def pull(self, pr: dict, full: bool) -> dict:
        repo, n = pr["repo"], pr["number"]
        a = f"{self.api}/repos/{repo}"
        w = f"{self.web}/{repo}"

        def branch(side):
            b = pr[side]
            owner = b["repo"].split("/")[0]
            return {"label": f"{owner}:{b['ref']}", "ref": b["ref"], "sha": b["sha"],
                    "user": self.simple_user(owner), "repo": self.repository(b["repo"])}

        d = {
            "url": f"{a}/pulls/{n}", "id": pr["id"], "node_id": node_id("PR", pr["id"]),
            "html_url": f"{w}/pull/{n}", "diff_url": f"{w}/pull/{n}.diff",
            "patch_url": f"{w}/pull/{n}.patch", "issue_url": f"{a}/issues/{n}", "number": n,
            "state": pr["state"], "locked": pr["locked"], "title": pr["title"],
            "user": self.simple_user(pr["user"]), "body": pr["body"],
            "created_at": pr["created_at"], "updated_at": pr["updated_at"],
            "closed_at": pr["closed_at"], "merged_at": pr["merged_at"],
            "merge_commit_sha": pr["merge_commit_sha"], "assignee": None, "assignees": [],
            "requested_reviewers": [], "requested_teams": [], "labels": [], "milestone": None,
            "draft": pr["draft"], "commits_url": f"{a}/pulls/{n}/commits",
            "review_comments_url": f"{a}/pulls/{n}/comments",
            "review_comment_url": f"{a}/pulls/comments{{/number}}",
            "comments_url": f"{a}/issues/{n}/comments",
            "statuses_url": f"{a}/statuses/{pr['head']['sha']}",
            "head": branch("head"), "base": branch("base"),
            "_links": {
                "self": {"href": f"{a}/pulls/{n}"}, "html": {"href": f"{w}/pull/{n}"},
                "issue": {"href": f"{a}/issues/{n}"}, "comments": {"href": f"{a}/issues/{n}/comments"},
                "review_comments": {"href": f"{a}/pulls/{n}/comments"},
                "review_comment": {"href": f"{a}/pulls/comments{{/number}}"},
                "commits": {"href": f"{a}/pulls/{n}/commits"},
                "statuses": {"href": f"{a}/statuses/{pr['head']['sha']}"},
            },
            "author_association": pr["author_association"], "auto_merge": None,
            "active_lock_reason": None,
        }
        if full:
            ncomments = sum(1 for c in self.st.comments.values() if c["repo"] == repo and c["issue"] == n)
            d.update({
                "merged": pr["merged"],
                "mergeable": None if pr["state"] == "closed" else True,
                "rebaseable": None if pr["state"] == "closed" else True,
                "mergeable_state": "unknown" if pr["state"] == "closed" else "clean",
                "merged_by": self.simple_user(pr["merged_by"]) if pr["merged_by"] else None,
                "comments": ncomments, "review_comments": 0,
                "maintainer_can_modify": pr["head"]["repo"] != repo,
                "commits": max(1, len(pr["commits"])), "additions": 1, "deletions": 0,
                "changed_files": 1,
            })
        return d


# ---- HTTP ----------------------------------------------------------------------------------

def _route(method: str, parts: list[str]):
    """Maps a path (split on '/') to (operation, params) or None."""
    n = len(parts)
    if parts == ["user"] and method == "GET":
        return "users/get-authenticated", {}
    if n >= 3 and parts[0] == "repos":
        repo = f"{parts[1]}/{parts[2]}"
        rest = parts[3:]
    elif n >= 2 and parts[0] == "repositories":
        repo = ("#id", parts[1])
        rest = parts[2:]
    else:
        return None
    m = len(rest)
    if m == 3 and rest[0] == "issues" and rest[2] == "comments" and rest[1].isdigit():
        op = {"GET": "issues/list-comments", "POST": "issues/create-comment"}.get(method)
        return (op, {"repo": repo, "issue": int(rest[1])}) if op else None
    if m == 3 and rest[:2] == ["issues", "comments"] and rest[2].isdigit():
        op = {"GET": "issues/get-comment", "PATCH": "issues/update-comment"}.get(method)
        return (op, {"repo": repo, "comment": int(rest[2])}) if op else None
    if m == 2 and rest[0] == "statuses" and method == "POST":
        return "repos/create-commit-status", {"repo": repo, "sha": rest[1]}
    if m == 3 and rest[0] == "commits" and rest[2] == "pulls" and method == "GET":
        return "repos/list-pull-requests-associated-with-commit", {"repo": repo, "sha": rest[1]}
    if m == 3 and rest[0] == "commits" and rest[2] == "statuses" and method == "GET":
        return "repos/list-commit-statuses-for-ref", {"repo": repo, "sha": rest[1]}
    if m == 2 and rest[0] == "pulls" and rest[1].isdigit() and method == "GET":
        return "pulls/get", {"repo": repo, "number": int(rest[1])}
    return None


WRITE_OPS = {"issues/create-comment", "issues/update-comment", "repos/create-commit-status"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""
    state: State = None  # set by main()
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("fake_github: " + (fmt % args) + "\n")

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PATCH(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    # -- plumbing --

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(3)
                if len(out) > MAX_BODY_BYTES:
                    raise error(413, "Request body too large")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise error(413, "Request body too large")
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body, headers: dict | None = None):
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.send_header("X-GitHub-Request-Id", self.request_id)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self):
        self.request_id = "%04X:%04X:%06X:%06X:%08X" % tuple(
            int.from_bytes(secrets.token_bytes(4), "big") % m for m in (1 << 16, 1 << 16, 1 << 24, 1 << 24, 1 << 32))
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        try:
            raw = self._read_body()
        except ApiError as e:
            self.close_connection = True
            self._send(e.status, e.body)
            return
        except (ValueError, OSError):
            self.close_connection = True
            self._send(400, {"message": "Bad request body", "documentation_url": DOC_ROOT, "status": "400"})
            return
        try:
            if path.startswith("/_fake/"):
                self._control(path, split.query, raw)
            else:
                self._api(path, split.query, raw)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the fake: say so loudly, in the answer and on stderr
            traceback.print_exc()
            self.close_connection = True
            self._send(500, {"message": f"fake_github internal error: {type(e).__name__}: {e}"})

    def _control(self, path, query, raw):
        st = self.state
        params = dict(urllib.parse.parse_qsl(query))
        try:
            with st.lock:
                if path == "/_fake/health" and self.command == "GET":
                    return self._send(200, {"ok": True})
                if path == "/_fake/state" and self.command == "GET":
                    return self._send(200, st.dump())
                if path == "/_fake/state" and self.command == "POST":
                    mode = params.get("mode", "replace")
                    if mode not in ("replace", "merge"):
                        return self._send(400, {"message": "mode must be replace or merge"})
                    try:
                        data = json.loads(raw or b"{}")
                    except ValueError as e:
                        return self._send(400, {"message": f"state is not JSON: {e}"})
                    snapshot = st.snapshot()
                    try:
                        st.load(data, merge=(mode == "merge"))
                    except StateError as e:
                        st.restore(snapshot)  # a rejected state leaves the old one as it was
                        return self._send(400, {"message": str(e)})
                    st.requests, st.seq = snapshot["requests"], snapshot["seq"]
                    return self._send(200, st.dump())
                if path == "/_fake/requests" and self.command == "GET":
                    since = int(params.get("since", "0") or 0)
                    return self._send(200, [r for r in st.requests if r["seq"] > since])
                if path == "/_fake/requests" and self.command == "DELETE":
                    st.requests.clear()
                    return self._send(200, {"cleared": True})
                if path == "/_fake/shutdown" and self.command == "POST":
                    self._send(200, {"stopping": True})
                    threading.Thread(target=self.server.shutdown, daemon=True).start()
                    return None
            return self._send(404, {"message": f"no control endpoint {self.command} {path}"})
        except (ValueError, TypeError) as e:
            return self._send(400, {"message": f"bad control request: {e}"})

    def _api(self, path, query, raw):
        st = self.state
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        auth = headers.get("authorization")
        scheme, token = None, None
        if auth is not None:
            pieces = auth.split(None, 1)
            if len(pieces) == 2 and pieces[0].lower() in ("token", "bearer"):
                scheme, token = pieces[0].lower(), pieces[1].strip()
            else:
                scheme = "invalid"
            headers["authorization"] = f"{pieces[0] if pieces else ''} <redacted>"
        body_json, body_raw = None, None
        if raw:
            try:
                body_json = json.loads(raw)
            except ValueError:
                body_raw = raw.decode("utf-8", "replace")
        delay = 0.0
        with st.lock:
            st.seq += 1
            tok = st.tokens.get(token) if token else None
            record = {"seq": st.seq, "time": time.time(), "method": self.command, "path": path,
                      "query": query, "params": params, "headers": headers,
                      "auth": scheme, "token": tok["name"] if tok else None,
                      "token_known": bool(tok), "body": body_json}
            if body_raw is not None:
                record["body_raw"] = body_raw
            st.requests.append(record)
            fault = self._match_fault(path)
            if fault and fault["kind"] == "delay":
                delay = float(fault["seconds"])
                record["fault"] = "delay"
        if delay:
            time.sleep(delay)
        with st.lock:
            api = st.api_url or f"http://{headers.get('host', '127.0.0.1')}"
            sh = Shapes(st, api)
            extra = {}
            try:
                if fault and fault["kind"] != "delay":
                    record["fault"] = fault["kind"] if fault["kind"] != "status" else str(fault["status"])
                    raise self._fault_error(fault, tok)
                status, body, extra = self._dispatch(sh, path, params, tok, scheme, body_json, body_raw, raw)
            except ApiError as e:
                status, body, extra = e.status, e.body, e.headers
            record["status"] = status
            login = tok["login"] if tok else "anonymous"
            used = st.rate_used.get(login, 0) + 1
            st.rate_used[login] = used
            rl = {"X-RateLimit-Limit": RATE_LIMIT, "X-RateLimit-Remaining": max(0, RATE_LIMIT - used),
                  "X-RateLimit-Reset": int(time.time()) + 3600, "X-RateLimit-Used": used,
                  "X-RateLimit-Resource": "core"}
            rl.update(extra)
        self._send(status, body, rl)

    def _match_fault(self, path):
        for f in self.state.faults:
            if f["method"] not in ("*", self.command):
                continue
            if not fnmatch.fnmatchcase(path, f["path"]):
                continue
            f["hits"] += 1
            if f["hits"] <= f["skip"]:
                continue
            if f["hits"] - f["skip"] > f["count"]:
                continue
            return f
        return None

    def _fault_error(self, f, tok) -> ApiError:
        if f["kind"] == "primary":
            reset = int(time.time()) + f["reset_in"]
            who = f"installation ID {ACTIONS_APP_ID}" if tok and tok["kind"] == "integration" else \
                f"user ID {self.state.user(tok['login'])['id']}" if tok else "127.0.0.1"
            msg = f["message"] or f"API rate limit exceeded for {who}."
            e = error(f["status"], msg, RATE_DOC + "#about-the-primary-rate-limit")
            e.headers = {"X-RateLimit-Limit": RATE_LIMIT, "X-RateLimit-Remaining": 0,
                         "X-RateLimit-Reset": reset, "X-RateLimit-Used": RATE_LIMIT,
                         "X-RateLimit-Resource": "core"}
            return e
        if f["kind"] == "secondary":
            msg = f["message"] or SECONDARY_MESSAGE.format(request_id=self.request_id)
            e = error(f["status"], msg, RATE_DOC + "#about-secondary-rate-limits")
            e.headers = {"Retry-After": f["retry_after"]}
            return e
        status = f["status"]
        msg = f["message"] or {502: "Server Error", 503: "Service Unavailable", 500: "Server Error"}.get(status, "Server Error")
        return ApiError(status, {"message": msg})

    def _dispatch(self, sh: Shapes, path, params, tok, scheme, body, body_raw, raw):
        st = self.state
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        route = _route(self.command, parts)
        if route is None:
            raise not_found()
        op, args = route
        doc = DOCS.get(op)
        if scheme == "invalid" or (scheme and tok is None):
            raise error(401, "Bad credentials", DOC_ROOT)
        if tok is None:
            raise error(401, "Requires authentication", doc)
        if op == "users/get-authenticated":
            if tok["kind"] == "integration":
                raise error(403, "Resource not accessible by integration", doc)
            return 200, sh.private_user(tok["login"]), {}
        repo = args["repo"]
        if isinstance(repo, tuple):
            by_id = [r for r in st.repos.values() if str(r["id"]) == repo[1]]
            if not by_id:
                raise not_found(doc)
            repo = by_id[0]["full_name"]
        if repo not in st.repos:
            raise not_found(doc)
        if op in WRITE_OPS:
            if not tok["write"]:
                who = "integration" if tok["kind"] == "integration" else "personal access token"
                raise error(403, f"Resource not accessible by {who}", doc)
            if raw and body is None:
                raise error(400, "Problems parsing JSON", doc)
            if not isinstance(body, dict):
                raise error(422, "Invalid request.\n\nFor 'links/0/schema', nil is not an object.", doc)
        author = tok["login"]

        if op == "issues/list-comments":
            key = (repo, args["issue"])
            if key not in st.issues:
                raise not_found(doc)
            items = [c for _, c in sorted(st.comments.items()) if (c["repo"], c["issue"]) == key]
            since = params.get("since")
            if since:
                items = [c for c in items if c["updated_at"] >= since]
            return self._page(sh, items, sh.comment, params,
                              f"{sh.api}/repositories/{st.repos[repo]['id']}/issues/{args['issue']}/comments")
        if op == "issues/create-comment":
            key = (repo, args["issue"])
            if key not in st.issues:
                raise not_found(doc)
            text = self._comment_body(body, doc)
            now = now_iso()
            c = {"id": st.next_comment_id, "repo": repo, "issue": args["issue"], "user": author,
                 "body": text, "created_at": now, "updated_at": now, "app": tok["kind"] == "integration"}
            st.next_comment_id += 1
            st.comments[c["id"]] = c
            out = sh.comment(c)
            return 201, out, {"Location": out["url"]}
        if op in ("issues/get-comment", "issues/update-comment"):
            c = st.comments.get(args["comment"])
            if c is None or c["repo"] != repo:
                raise not_found(doc)
            if op == "issues/get-comment":
                return 200, sh.comment(c), {}
            if c["user"] != author and not tok["admin"]:
                who = "integration" if tok["kind"] == "integration" else "personal access token"
                raise error(403, f"Resource not accessible by {who}", doc)
            c["body"] = self._comment_body(body, doc)
            c["updated_at"] = now_iso()
            return 200, sh.comment(c), {}
        if op == "repos/create-commit-status":
            state = body.get("state")
            if "state" not in body:
                raise error(422, 'Invalid request.\n\n"state" wasn\'t supplied.', doc)
            if state not in STATUS_STATES:
                raise error(422, "Validation Failed", doc, [
                    {"resource": "Status", "code": "custom", "field": "state",
                     "message": "state is not included in the list"}])
            for field in ("target_url", "description", "context"):
                if body.get(field) is not None and not isinstance(body[field], str):
                    raise error(422, f"Invalid request.\n\nFor 'properties/{field}', {json.dumps(body[field])} is not a string.", doc)
            desc = body.get("description")
            if desc is not None and len(desc) > MAX_STATUS_DESCRIPTION:
                raise error(422, "Validation Failed", doc, [
                    {"resource": "Status", "code": "custom", "field": "description",
                     "message": f"description is too long (maximum is {MAX_STATUS_DESCRIPTION} characters)"}])
            s = st._add_status(repo, args["sha"], state, body.get("target_url"), desc,
                               body.get("context") or "default", author)
            out = sh.status(s)
            return 201, out, {"Location": out["url"]}
        if op == "repos/list-commit-statuses-for-ref":
            items = [s for s in reversed(st.statuses) if s["repo"] == repo and s["sha"] == args["sha"]]
            return self._page(sh, items, sh.status, params,
                              f"{sh.api}/repositories/{st.repos[repo]['id']}/commits/{args['sha']}/statuses")
        if op == "repos/list-pull-requests-associated-with-commit":
            sha = args["sha"]
            hits = [p for _, p in sorted(st.pulls.items()) if p["repo"] == repo and (
                sha in (p["head"]["sha"], p["merge_commit_sha"]) or sha in p["commits"])]
            merged = [p for p in hits if p["merged"]]
            # GitHub: the merged PR that brought the commit in; otherwise the open PRs with it.
            items = merged if merged else [p for p in hits if p["state"] == "open"]
            return self._page(sh, items, lambda p: sh.pull(p, full=False), params,
                              f"{sh.api}/repositories/{st.repos[repo]['id']}/commits/{sha}/pulls")
        if op == "pulls/get":
            p = st.pulls.get((repo, args["number"]))
            if p is None:
                raise not_found(doc)
            return 200, sh.pull(p, full=True), {}
        raise not_found(doc)

    @staticmethod
    def _comment_body(body, doc) -> str:
        if "body" not in body:
            raise error(422, 'Invalid request.\n\n"body" wasn\'t supplied.', doc)
        text = body["body"]
        if not isinstance(text, str):
            raise error(422, f"Invalid request.\n\nFor 'properties/body', {json.dumps(text)} is not a string.", doc)
        if len(text) > MAX_COMMENT:
            raise error(422, "Validation Failed", doc, [
                {"resource": "IssueComment", "code": "custom", "field": "body",
                 "message": f"body is too long (maximum is {MAX_COMMENT} characters)"}])
        return text

    @staticmethod
    def _page(sh, items, render, params, link_base):
        def int_param(name, default):
            try:
                v = int(params.get(name) or default)
            except ValueError:
                return default
            return v if v > 0 else default

        per_page = min(int_param("per_page", 30), 100)
        page = int_param("page", 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        links = []

        def url(p):
            q = {k: v for k, v in params.items() if k not in ("page",)}
            q["page"] = str(p)
            return f"<{link_base}?{urllib.parse.urlencode(q)}>"

        if page > 1:
            links.append(f'{url(min(page - 1, last))}; rel="prev"')
        if page < last:
            links.append(f'{url(page + 1)}; rel="next"')
            links.append(f'{url(last)}; rel="last"')
        if page > 1:
            links.append(f'{url(1)}; rel="first"')
        if links:
            headers["Link"] = ", ".join(links)
        return 200, [render(x) for x in chunk], headers


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback only; default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    ap.add_argument("--state", help="JSON file with the initial state")
    ap.add_argument("--ready", help="file to write the port to once listening")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args(argv)
    if not (args.host.startswith("127.") or args.host in ("::1", "localhost")):
        print(f"fake_github: error: --host {args.host!r} is not a loopback address", file=sys.stderr)
        return 2
    st = State()
    if args.state:
        try:
            with open(args.state, encoding="utf-8") as f:
                data = json.load(f)
            st.load(data, merge=False)
        except OSError as e:
            print(f"fake_github: error: cannot read --state {args.state}: {e.strerror}", file=sys.stderr)
            return 2
        except ValueError as e:  # JSON or StateError
            print(f"fake_github: error: --state {args.state}: {e}", file=sys.stderr)
            print("hint: see tests/github/README.md, 'State'", file=sys.stderr)
            return 2
    Handler.state = st
    Handler.verbose = args.verbose
    try:
        srv = Server((args.host, args.port), Handler)
    except OSError as e:
        print(f"fake_github: error: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        return 2
    port = srv.server_address[1]
    if args.ready:
        tmp = f"{args.ready}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.ready)

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        srv.serve_forever(poll_interval=0.1)
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
