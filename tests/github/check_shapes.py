#!/usr/bin/env python3
"""Checks that every JSON answer of tests/github/fake_github.py has api.github.com's shape.

    target/test-tools/bin/python tests/github/check_shapes.py [--spec FILE] [-v]

Starts the fake server, drives every endpoint (successes, errors, faults, pagination), and
validates each response body with `jsonschema` against the response schema that GitHub's OpenAPI
description (@octokit/openapi, installed by scripts/test-tools-github) gives for that operation
and status. Where an operation declares no schema for a status the fake sends (GitHub's own
description leaves many error statuses out), the body is checked against the description's
generic `basic-error` (or `validation-error` for 422) schema. On top of the schema, a key the
schema does not name is an error too (the schemas allow extra keys; a typo in the fake would pass
them). Exits 1 on any mismatch, 2 when it cannot run; the last line is `shapes: N passed, N failed`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_SPEC = ROOT / "target/test-tools/npm/node_modules/@octokit/openapi/generated/api.github.com.json"

try:
    import jsonschema
except ImportError:  # pragma: no cover - reported, not hidden
    print("error: the jsonschema module is missing; run scripts/test-tools-github and use "
          "target/test-tools/bin/python", file=sys.stderr)
    sys.exit(2)

# operation id -> (path template in the description, method)
OPERATIONS = {
    "users/get-authenticated": ("/user", "get"),
    "issues/list-comments": ("/repos/{owner}/{repo}/issues/{issue_number}/comments", "get"),
    "issues/create-comment": ("/repos/{owner}/{repo}/issues/{issue_number}/comments", "post"),
    "issues/get-comment": ("/repos/{owner}/{repo}/issues/comments/{comment_id}", "get"),
    "issues/update-comment": ("/repos/{owner}/{repo}/issues/comments/{comment_id}", "patch"),
    "repos/create-commit-status": ("/repos/{owner}/{repo}/statuses/{sha}", "post"),
    "repos/list-commit-statuses-for-ref": ("/repos/{owner}/{repo}/commits/{ref}/statuses", "get"),
    "repos/list-pull-requests-associated-with-commit": ("/repos/{owner}/{repo}/commits/{commit_sha}/pulls", "get"),
    "pulls/get": ("/repos/{owner}/{repo}/pulls/{pull_number}", "get"),
}
DROP = {"discriminator", "example", "examples", "externalDocs", "xml", "deprecated", "readOnly",
        "writeOnly"}

HEAD = "1111111111111111111111111111111111111111"
FORK_HEAD = "3333333333333333333333333333333333333333"
MERGE = "4444444444444444444444444444444444444444"
BASE = "2222222222222222222222222222222222222222"
STATE = {
    "repos": {"acme/widgets": {"default_branch": "main"}},
    "tokens": {
        "ghs_write": {"kind": "integration", "write": True},
        "ghs_read": {"kind": "integration", "write": False, "name": "fork-token"},
        "ghp_alice": {"login": "alice", "kind": "user", "write": True},
    },
    "pulls": [
        {"repo": "acme/widgets", "number": 7, "user": "alice", "title": "Add data",
         "head": {"ref": "feature", "sha": HEAD}, "base": {"ref": "main", "sha": BASE},
         "commits": [HEAD]},
        {"repo": "acme/widgets", "number": 8, "user": "mallory",
         "head": {"ref": "patch-1", "sha": FORK_HEAD, "repo": "mallory/widgets"},
         "base": {"sha": BASE}},
        {"repo": "acme/widgets", "number": 5, "user": "alice", "merged": True,
         "merge_commit_sha": MERGE, "head": {"ref": "old", "sha": "5" * 40}, "base": {"sha": BASE}},
    ],
    "comments": [{"repo": "acme/widgets", "issue": 7, "user": "bob", "body": "noise {n}", "repeat": 150}],
}


# ---- the description, as JSON Schema -------------------------------------------------------

def to_json_schema(node):
    """OpenAPI 3.0 schema object -> JSON Schema draft 4 (nullable, and keywords it lacks)."""
    if isinstance(node, list):
        return [to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in DROP or k.startswith("x-") or k == "nullable":
            continue
        if k in ("properties", "patternProperties"):
            out[k] = {name: to_json_schema(s) for name, s in v.items()}
        elif k in ("items", "not", "additionalProperties") and isinstance(v, dict):
            out[k] = to_json_schema(v)
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [to_json_schema(s) for s in v]
        else:
            out[k] = v
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def refs_in(node, found: set):
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str):
            found.add(r)
        for v in node.values():
            refs_in(v, found)
    elif isinstance(node, list):
        for v in node:
            refs_in(v, found)


class Description:
    def __init__(self, path: Path):
        with open(path, encoding="utf-8") as f:
            self.spec = json.load(f)
        self.version = self.spec.get("info", {}).get("version", "?")
        self.schemas = self.spec["components"]["schemas"]

    def _deref_response(self, resp):
        while "$ref" in resp:
            name = resp["$ref"].split("/")[-1]
            resp = self.spec["components"]["responses"][name]
        return resp

    def response_schema(self, op: str, status: int):
        """(schema, how) for an operation's response; how says where it came from."""
        path, method = OPERATIONS[op]
        operation = self.spec["paths"][path][method]
        resp = operation["responses"].get(str(status))
        if resp is not None:
            resp = self._deref_response(resp)
            content = resp.get("content", {}).get("application/json")
            if content and "schema" in content:
                return content["schema"], f"{op} {status}"
            return None, f"{op} {status} (no body declared)"
        fallback = "validation-error" if status == 422 else "basic-error"
        return {"$ref": f"#/components/schemas/{fallback}"}, f"{op} {status} not declared; generic {fallback}"

    def validator(self, schema):
        wanted, todo = set(), set()
        refs_in(schema, todo)
        while todo:
            ref = todo.pop()
            if ref in wanted:
                continue
            wanted.add(ref)
            refs_in(self.schemas[ref.split("/")[-1]], todo)
        comps = {r.split("/")[-1]: to_json_schema(self.schemas[r.split("/")[-1]]) for r in wanted}
        root = dict(to_json_schema(schema))
        root["components"] = {"schemas": comps}
        return jsonschema.Draft4Validator(root, format_checker=FORMATS)


FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value):
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@FORMATS.checks("uri", raises=ValueError)
def _uri(value):
    if not isinstance(value, str):
        return True
    parts = urllib.parse.urlsplit(value)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"{value!r} is not an absolute URI")
    return True


# ---- unknown keys ----------------------------------------------------------------------------

def unknown_keys(validator, schema, instance, where="$"):
    """Keys present in `instance` that the (resolved) schema names nowhere."""
    problems = []
    resolver = validator._resolver  # jsonschema >= 4.18 (referencing)

    def resolve(s):
        while isinstance(s, dict) and "$ref" in s:
            s = resolver.lookup(s["$ref"]).contents
        return s

    def walk(s, inst, path):
        s = resolve(s)
        if not isinstance(s, dict):
            return
        for key in ("anyOf", "oneOf"):
            if key in s:
                branches = [b for b in s[key] if validator.evolve(schema=_with_root(validator, b)).is_valid(inst)]
                for b in branches[:1]:
                    walk(b, inst, path)
                return
        if "allOf" in s:
            names = set()
            for b in s["allOf"]:
                names |= set(resolve(b).get("properties", {}))
            if isinstance(inst, dict):
                extra = set(inst) - names
                if extra and names:
                    problems.append(f"{path}: keys not in the schema: {sorted(extra)}")
            for b in s["allOf"]:
                walk(dict(resolve(b), additionalProperties=True), inst, path)
            return
        if isinstance(inst, dict) and "properties" in s:
            extra = set(inst) - set(s["properties"])
            if extra and s.get("additionalProperties") in (None, False):
                problems.append(f"{path}: keys not in the schema: {sorted(extra)}")
            for k, v in inst.items():
                if k in s["properties"]:
                    walk(s["properties"][k], v, f"{path}.{k}")
        if isinstance(inst, list) and "items" in s:
            for i, v in enumerate(inst[:3]):
                walk(s["items"], v, f"{path}[{i}]")

    walk(schema, instance, where)
    return problems


def timestamps(instance, path="$"):
    """Every `*_at` string is an RFC 3339 time, as on GitHub (some schemas say only 'string')."""
    problems = []
    if isinstance(instance, dict):
        for k, v in instance.items():
            if k.endswith("_at") and isinstance(v, str):
                try:
                    _date_time(v)
                except ValueError as e:
                    problems.append(f"{path}.{k}: {e}")
            problems += timestamps(v, f"{path}.{k}")
    elif isinstance(instance, list):
        for i, v in enumerate(instance[:3]):
            problems += timestamps(v, f"{path}[{i}]")
    return problems


def _with_root(validator, sub):
    root = dict(sub)
    root["components"] = validator.schema["components"]
    return root


# ---- driving the fake -----------------------------------------------------------------------

class Fake:
    def __init__(self, state: dict, tmp: Path):
        state_file = tmp / "state.json"
        state_file.write_text(json.dumps(state))
        self.ready = tmp / "ready"
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "fake_github.py"), "--port", "0", "--state", str(state_file),
             "--ready", str(self.ready)], stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        while not (self.ready.exists() and self.ready.read_text().strip()):
            if self.proc.poll() is not None:
                raise RuntimeError(f"fake_github.py exited {self.proc.returncode}: {self.proc.stderr.read()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("fake_github.py did not write its ready file within 15 s")
            time.sleep(0.05)
        self.base = f"http://127.0.0.1:{int(self.ready.read_text())}"

    def call(self, method, path, token=None, body=None, raw: bytes | None = None):
        url = path if path.startswith("http") else self.base + path
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/vnd.github+json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", token if " " in token else f"token {token}")
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                status, headers, text = r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            status, headers, text = e.code, dict(e.headers), e.read()
        return status, {k.lower(): v for k, v in headers.items()}, json.loads(text) if text else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def parse_link(header: str | None) -> dict:
    out = {}
    for part in (header or "").split(","):
        m = re.fullmatch(r'\s*<([^>]+)>;\s*rel="(\w+)"\s*', part)
        if m:
            out[m.group(2)] = m.group(1)
        elif part.strip():
            raise ValueError(f"malformed Link header part {part!r}")
    return out


class Checker:
    def __init__(self, desc: Description, verbose: bool):
        self.desc = desc
        self.verbose = verbose
        self.passed = 0
        self.failed = 0
        self.cache = {}

    def fail(self, what, msg):
        self.failed += 1
        print(f"FAIL {what}: {msg}")

    def ok(self, what, how=""):
        self.passed += 1
        if self.verbose:
            print(f"ok   {what}{'  [' + how + ']' if how else ''}")

    def problems(self, op, status, body):
        schema, how = self.desc.response_schema(op, status)
        if schema is None:
            return ([] if body in (None, "") else [f"body sent where {how}"]), how
        key = json.dumps(schema, sort_keys=True)
        if key not in self.cache:
            self.cache[key] = self.desc.validator(schema)
        v = self.cache[key]
        errs = []
        for e in sorted(v.iter_errors(body), key=lambda e: list(map(str, e.absolute_path))):
            while e.context:  # anyOf/oneOf: say why the closest branch failed, not the whole instance
                real = [c for c in e.context if not (c.validator == "type" and c.validator_value == "null")]
                e = jsonschema.exceptions.best_match(real or e.context)
            errs.append(f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message[:300]}")
        if not errs:
            errs = unknown_keys(v, v.schema, body) + timestamps(body)
        return errs, how

    def shape(self, what, op, status, body, want_status):
        if status != want_status:
            self.fail(what, f"status {status}, wanted {want_status}; body {json.dumps(body)[:300]}")
            return False
        errs, how = self.problems(op, status, body)
        if errs:
            self.fail(what, f"[{how}] " + "; ".join(errs[:8]))
            return False
        self.ok(what, how)
        return True

    def expect(self, what, cond, msg):
        if cond:
            self.ok(what)
        else:
            self.fail(what, msg)


def self_test(ck: Checker):
    """The checker must reject wrong shapes, or it proves nothing."""
    good = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}
    bad_type = {"message": 404}
    typo = dict(good, mesage="x")
    errs_good, _ = ck.problems("pulls/get", 404, good)
    errs_type, _ = ck.problems("pulls/get", 404, bad_type)
    errs_typo, _ = ck.problems("pulls/get", 404, typo)
    no_id = {"url": "http://x/y"}  # an issue-comment with most required keys missing
    errs_missing, _ = ck.problems("issues/get-comment", 200, no_id)
    ck.expect("self-test: a correct error body passes", not errs_good, f"{errs_good}")
    ck.expect("self-test: a wrong type is caught", bool(errs_type), "validator accepted message: 404")
    ck.expect("self-test: an unknown key is caught", bool(errs_typo), "validator accepted key 'mesage'")
    ck.expect("self-test: missing required keys are caught", bool(errs_missing), "validator accepted {url}")
    v = ck.desc.validator({"type": "string", "format": "date-time"})
    ck.expect("self-test: a bad date-time is caught", not v.is_valid("2020-01-01 10:00"), "accepted '2020-01-01 10:00'")


def run(ck: Checker, fake: Fake):
    R = "/repos/acme/widgets"
    # /user
    s, h, b = fake.call("GET", "/user", "ghp_alice")
    if ck.shape("GET /user (user token)", "users/get-authenticated", s, b, 200):
        ck.expect("GET /user login", b["login"] == "alice", f"login {b['login']!r}")
    s, h, b = fake.call("GET", "/user", "ghs_write")
    if ck.shape("GET /user (integration token) -> 403", "users/get-authenticated", s, b, 403):
        ck.expect("403 message", b["message"] == "Resource not accessible by integration", b["message"])
    s, h, b = fake.call("GET", "/user")
    ck.shape("GET /user (no token) -> 401", "users/get-authenticated", s, b, 401)
    s, h, b = fake.call("GET", "/user", "ghp_nosuch")
    if ck.shape("GET /user (unknown token) -> 401", "users/get-authenticated", s, b, 401):
        ck.expect("401 message", b["message"] == "Bad credentials", b["message"])
    s, h, b = fake.call("GET", "/user", "Bearer ghp_alice")
    ck.shape("GET /user (Bearer scheme)", "users/get-authenticated", s, b, 200)

    # list comments, following Link headers
    s, h, b = fake.call("GET", f"{R}/issues/7/comments", "ghs_write")
    if ck.shape("GET comments page 1", "issues/list-comments", s, b, 200):
        ck.expect("default per_page is 30", len(b) == 30, f"{len(b)} items")
        links = parse_link(h.get("link"))
        ck.expect("page 1 Link has next and last", set(links) == {"next", "last"}, f"{links}")
        seen, url, pages = len(b), links.get("next"), 1
        while url and pages < 20:
            s, h, b = fake.call("GET", url, "ghs_write")
            pages += 1
            if not ck.shape(f"GET comments page {pages} (from Link)", "issues/list-comments", s, b, 200):
                break
            seen += len(b)
            links = parse_link(h.get("link"))
            url = links.get("next")
        ck.expect("following rel=next sees all 150 comments in 5 pages", (seen, pages) == (150, 5), f"{seen} in {pages}")
        ck.expect("last page links prev and first only", set(links) == {"prev", "first"}, f"{links}")
    s, h, b = fake.call("GET", f"{R}/issues/7/comments?per_page=500", "ghs_write")
    ck.expect("per_page is capped at 100", s == 200 and len(b) == 100, f"{s} {len(b) if isinstance(b, list) else b}")
    s, h, b = fake.call("GET", f"{R}/issues/7/comments?per_page=100&page=2", "ghs_write")
    ck.expect("per_page=100 page 2 has the other 50", s == 200 and len(b) == 50, f"{s}")
    s, h, b = fake.call("GET", f"{R}/issues/99/comments", "ghs_write")
    ck.shape("GET comments of an unknown issue -> 404", "issues/list-comments", s, b, 404)
    s, h, b = fake.call("GET", "/repos/acme/nosuch/issues/7/comments", "ghs_write")
    ck.shape("GET comments of an unknown repo -> 404", "issues/list-comments", s, b, 404)

    # create / update comments
    s, h, b = fake.call("POST", f"{R}/issues/7/comments", "ghs_write", {"body": "<!-- gitml -->\nreport"})
    bot_comment = None
    if ck.shape("POST comment (GITHUB_TOKEN)", "issues/create-comment", s, b, 201):
        bot_comment = b
        ck.expect("bot author", (b["user"]["login"], b["user"]["type"]) == ("github-actions[bot]", "Bot"), f"{b['user']['login']}")
        ck.expect("Location header", h.get("location") == b["url"], f"{h.get('location')}")
        ck.expect("html_url points at the PR", b["html_url"].endswith(f"/acme/widgets/pull/7#issuecomment-{b['id']}"), b["html_url"])
        ck.expect("comment id exceeds 2^31", b["id"] > 2**31, str(b["id"]))
    s, h, b = fake.call("POST", f"{R}/issues/7/comments", "ghp_alice", {"body": "by alice"})
    alice_comment = b if ck.shape("POST comment (user token)", "issues/create-comment", s, b, 201) else None
    s, h, b = fake.call("POST", f"{R}/issues/7/comments", "ghs_read", {"body": "x"})
    ck.shape("POST comment (read-only token) -> 403", "issues/create-comment", s, b, 403)
    s, h, b = fake.call("POST", f"{R}/issues/7/comments", "ghs_write", {"body": "x" * 65537})
    if ck.shape("POST comment of 65537 characters -> 422", "issues/create-comment", s, b, 422):
        ck.expect("too-long message", b["errors"][0]["message"] == "body is too long (maximum is 65536 characters)", f"{b}")
    s, h, b = fake.call("POST", f"{R}/issues/7/comments", "ghs_write", {"body": "é" * 65536})
    ck.expect("65536 non-ASCII characters are accepted", s == 201, f"status {s}")
    s, h, b = fake.call("POST", f"{R}/issues/7/comments", "ghs_write", {"text": "x"})
    ck.shape("POST comment without body -> 422", "issues/create-comment", s, b, 422)
    s, h, b = fake.call("POST", f"{R}/issues/7/comments", "ghs_write", raw=b"{not json")
    ck.shape("POST comment, malformed JSON -> 400", "issues/create-comment", s, b, 400)
    s, h, b = fake.call("POST", f"{R}/issues/7/comments", "ghp_nosuch", {"body": "x"})
    ck.shape("POST comment (unknown token) -> 401", "issues/create-comment", s, b, 401)
    if bot_comment:
        cid = bot_comment["id"]
        s, h, b = fake.call("PATCH", f"{R}/issues/comments/{cid}", "ghs_write", {"body": "updated"})
        if ck.shape("PATCH own comment", "issues/update-comment", s, b, 200):
            ck.expect("PATCH keeps id, changes body", (b["id"], b["body"]) == (cid, "updated"), f"{b['id']} {b['body']!r}")
        s, h, b = fake.call("GET", f"{R}/issues/comments/{cid}", "ghs_write")
        ck.shape("GET comment", "issues/get-comment", s, b, 200)
        s, h, b = fake.call("PATCH", f"{R}/issues/comments/{cid}", "ghs_write", {"body": "y" * 65537})
        ck.shape("PATCH with 65537 characters -> 422", "issues/update-comment", s, b, 422)
    if alice_comment:
        s, h, b = fake.call("PATCH", f"{R}/issues/comments/{alice_comment['id']}", "ghs_write", {"body": "hijack"})
        ck.shape("PATCH someone else's comment -> 403", "issues/update-comment", s, b, 403)
    s, h, b = fake.call("PATCH", f"{R}/issues/comments/1", "ghs_write", {"body": "x"})
    ck.shape("PATCH unknown comment -> 404", "issues/update-comment", s, b, 404)

    # statuses
    s, h, b = fake.call("POST", f"{R}/statuses/{HEAD}", "ghs_write",
                        {"state": "success", "target_url": "https://ci.example/1", "description": "3 gates passed", "context": "git-ml"})
    if ck.shape("POST status", "repos/create-commit-status", s, b, 201):
        ck.expect("status fields echo", (b["state"], b["context"], b["creator"]["login"]) == ("success", "git-ml", "github-actions[bot]"), f"{b['state']} {b['context']}")
    s, h, b = fake.call("POST", f"{R}/statuses/{HEAD}", "ghs_write", {"state": "pending"})
    if ck.shape("POST status, state only", "repos/create-commit-status", s, b, 201):
        ck.expect("context defaults to 'default'", b["context"] == "default" and b["description"] is None, f"{b['context']}")
    s, h, b = fake.call("POST", f"{R}/statuses/{HEAD}", "ghs_write", {"state": "passed"})
    ck.shape("POST status, bad state -> 422", "repos/create-commit-status", s, b, 422)
    s, h, b = fake.call("POST", f"{R}/statuses/{HEAD}", "ghs_write", {"state": "success", "description": "d" * 141})
    ck.shape("POST status, description over 140 -> 422", "repos/create-commit-status", s, b, 422)
    s, h, b = fake.call("POST", f"{R}/statuses/{HEAD}", "ghs_read", {"state": "success"})
    ck.shape("POST status (read-only token) -> 403", "repos/create-commit-status", s, b, 403)
    s, h, b = fake.call("GET", f"{R}/commits/{HEAD}/statuses", "ghs_write")
    if ck.shape("GET statuses for ref", "repos/list-commit-statuses-for-ref", s, b, 200):
        ck.expect("statuses newest first", [x["state"] for x in b] == ["pending", "success"], f"{[x['state'] for x in b]}")

    # pulls
    s, h, b = fake.call("GET", f"{R}/commits/{HEAD}/pulls", "ghs_write")
    if ck.shape("GET commit's pulls (open PR head)", "repos/list-pull-requests-associated-with-commit", s, b, 200):
        ck.expect("commit -> PR 7", [p["number"] for p in b] == [7], f"{[p['number'] for p in b]}")
    s, h, b = fake.call("GET", f"{R}/commits/{MERGE}/pulls", "ghs_write")
    if ck.shape("GET commit's pulls (merge commit)", "repos/list-pull-requests-associated-with-commit", s, b, 200):
        ck.expect("merge commit -> merged PR 5", [p["number"] for p in b] == [5] and b[0]["merged_at"], f"{b}"[:200])
    s, h, b = fake.call("GET", f"{R}/commits/{'9' * 40}/pulls", "ghs_write")
    ck.expect("unknown commit -> []", s == 200 and b == [], f"{s} {b}")
    s, h, b = fake.call("GET", f"{R}/pulls/7", "ghs_write")
    if ck.shape("GET pull", "pulls/get", s, b, 200):
        ck.expect("PR head/base", (b["head"]["sha"], b["base"]["ref"], b["head"]["repo"]["fork"]) == (HEAD, "main", False), "")
        ck.expect("PR counts its comments", b["comments"] >= 152, f"{b['comments']}")
    s, h, b = fake.call("GET", f"{R}/pulls/8", "ghs_read")
    if ck.shape("GET fork pull", "pulls/get", s, b, 200):
        ck.expect("fork head repo", (b["head"]["repo"]["full_name"], b["head"]["repo"]["fork"], b["head"]["label"]) == ("mallory/widgets", True, "mallory:patch-1"), f"{b['head']['repo']['full_name']}")
    s, h, b = fake.call("GET", f"{R}/pulls/5", "ghs_write")
    if ck.shape("GET merged pull", "pulls/get", s, b, 200):
        ck.expect("merged fields", (b["merged"], b["state"], b["merge_commit_sha"]) == (True, "closed", MERGE) and b["merged_by"]["login"] == "alice", "")
    s, h, b = fake.call("GET", f"{R}/pulls/404", "ghs_write")
    ck.shape("GET unknown pull -> 404", "pulls/get", s, b, 404)

    # faults
    fault_state = {"faults": [
        {"method": "POST", "path": "/repos/*/issues/*/comments", "kind": "502", "count": 2},
        {"method": "GET", "path": "/repos/*/pulls/*", "kind": "primary", "count": 1, "reset_in": 30},
        {"method": "POST", "path": "/repos/*/statuses/*", "kind": "secondary", "count": 1, "retry_after": 7},
    ]}
    s, _, b = fake.call("POST", "/_fake/state?mode=merge", None, fault_state)
    ck.expect("merge faults into the state", s == 200, f"{s} {b}")
    got = [fake.call("POST", f"{R}/issues/7/comments", "ghs_write", {"body": "retry"})[0] for _ in range(3)]
    ck.expect("the first 2 POSTs answer 502, the third 201", got == [502, 502, 201], f"{got}")
    s, h, b = fake.call("POST", f"{R}/issues/7/comments", "ghs_write", {"body": "x"})
    ck.expect("exhausted fault stays quiet", s == 201, f"{s}")
    # shape of a 502 body: GitHub's is {"message": "Server Error"}; check as basic-error
    fake.call("POST", "/_fake/state?mode=merge", None, {"faults": [{"path": "/user", "kind": "502"}]})
    s, h, b = fake.call("GET", "/user", "ghp_alice")
    ck.shape("502 body", "users/get-authenticated", s, b, 502)
    s, h, b = fake.call("GET", f"{R}/pulls/7", "ghs_write")
    if ck.shape("primary rate limit -> 403", "pulls/get", s, b, 403):
        reset = int(h.get("x-ratelimit-reset", "0"))
        ck.expect("primary headers", h.get("x-ratelimit-remaining") == "0" and reset > time.time(), f"{h}")
        ck.expect("primary message", b["message"].startswith("API rate limit exceeded for installation ID"), b["message"])
    s, h, b = fake.call("POST", f"{R}/statuses/{HEAD}", "ghs_write", {"state": "success"})
    if ck.shape("secondary rate limit -> 403", "repos/create-commit-status", s, b, 403):
        ck.expect("retry-after header", h.get("retry-after") == "7", f"{h.get('retry-after')}")
        ck.expect("secondary message", b["message"].startswith("You have exceeded a secondary rate limit"), b["message"])

    # control API
    s, _, reqs = fake.call("GET", "/_fake/requests")
    ck.expect("requests are recorded", s == 200 and len(reqs) > 40, f"{s}")
    leaked = [r for r in reqs if "ghs_write" in json.dumps(r) or "ghp_alice" in json.dumps(r)]
    ck.expect("no token value in the request log", not leaked, f"{leaked[:1]}")
    posts = [r for r in reqs if r["method"] == "POST" and r["path"] == f"{R}/issues/7/comments" and r.get("status") == 201]
    ck.expect("recorded POST has body and token name", bool(posts) and posts[0]["body"] == {"body": "<!-- gitml -->\nreport"} and posts[0]["token"] == "github-actions[bot]", f"{posts[:1]}")
    s, _, dump = fake.call("GET", "/_fake/state")
    ck.expect("state lists stored statuses", s == 200 and len(dump["statuses"]) == 2, f"{len(dump.get('statuses', []))}")
    s, _, b = fake.call("POST", "/_fake/state?mode=merge", None, {"pulls": [{"repo": "bad"}]})
    ck.expect("bad state is refused with a message", s == 400 and "owner/name" in b["message"], f"{s} {b}")
    s, _, dump2 = fake.call("GET", "/_fake/state")
    ck.expect("a refused state leaves the old one", dump2["comments"] == dump["comments"], "state changed")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help=f"OpenAPI description (default {DEFAULT_SPEC})")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each check that passes")
    args = ap.parse_args()
    if not args.spec.is_file():
        print(f"error: no OpenAPI description at {args.spec}\nhint: run scripts/test-tools-github", file=sys.stderr)
        return 2
    desc = Description(args.spec)
    ck = Checker(desc, args.verbose)
    print(f"checking tests/github/fake_github.py against @octokit/openapi {desc.version} ({args.spec.name})")
    self_test(ck)
    with tempfile.TemporaryDirectory(prefix="fake-github-") as tmp:
        try:
            fake = Fake(STATE, Path(tmp))
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        try:
            run(ck, fake)
        finally:
            fake.stop()
    print(f"shapes: {ck.passed} passed, {ck.failed} failed")
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
