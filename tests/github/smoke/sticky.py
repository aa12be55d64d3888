#!/usr/bin/env python3
"""Test double of `git ml ci` for tests/github/act_smoke.sh (stdlib only).

pull_request: finds its sticky comment (marker below) across all pages of the PR's comments,
PATCHes it or POSTs a new one, and sets a commit status on pull_request.head.sha.
push: finds the merged PR of the pushed commit (commits/{sha}/pulls) and comments on it.
A read-only token (fork PRs) gets 403: it then writes the report to the step summary only.
"""
import json
import os
import re
import sys
import urllib.error
import urllib.request

MARKER = "<!-- git-ml-smoke -->"
API = os.environ["GITHUB_API_URL"].rstrip("/")
REPO = os.environ["GITHUB_REPOSITORY"]
TOKEN = os.environ.get("GH_TOKEN", "")


def call(method, url, body=None):
    req = urllib.request.Request(url if url.startswith("http") else API + url, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", f"Bearer {TOKEN}")
    req.add_header("Accept", "application/vnd.github+json")
    req.add_header("X-GitHub-Api-Version", "2022-11-28")
    with urllib.request.urlopen(req, timeout=20) as r:
        nxt = re.search(r'<([^>]+)>;\s*rel="next"', r.headers.get("Link") or "")
        return json.loads(r.read() or b"null"), nxt.group(1) if nxt else None


def out(name, value):
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as f:
        f.write(f"{name}={value}\n")


def summary(text):
    with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
        f.write(text + "\n")


def main():
    with open(os.environ["GITHUB_EVENT_PATH"], encoding="utf-8") as f:
        event = json.load(f)
    name = os.environ["GITHUB_EVENT_NAME"]
    if name == "pull_request":
        number, sha = event["number"], event["pull_request"]["head"]["sha"]
    elif name == "push":
        pulls, _ = call("GET", f"/repos/{REPO}/commits/{event['after']}/pulls")
        merged = [p for p in pulls if p.get("merged_at")]
        if not merged:
            summary("no merged pull request for this push")
            return 0
        number, sha = merged[0]["number"], None
    else:
        print(f"::error::unsupported event {name}")
        return 1
    body = f"{MARKER}\n### git-ml report\nevent `{name}`, PR #{number}"
    try:
        existing, url = None, f"/repos/{REPO}/issues/{number}/comments?per_page=100"
        while url and existing is None:
            page, url = call("GET", url)
            existing = next((c for c in page if MARKER in (c.get("body") or "")
                             and c["user"]["login"] == "github-actions[bot]"), None)
        if existing:
            c, _ = call("PATCH", f"/repos/{REPO}/issues/comments/{existing['id']}", {"body": body})
        else:
            c, _ = call("POST", f"/repos/{REPO}/issues/{number}/comments", {"body": body})
        if sha:
            call("POST", f"/repos/{REPO}/statuses/{sha}", {
                "state": "success", "context": os.environ.get("STATUS_CONTEXT", "git-ml"),
                "description": "smoke report posted", "target_url": c["html_url"]})
    except urllib.error.HTTPError as e:
        detail = json.loads(e.read() or b"{}").get("message", "")
        if e.code == 403 and "not accessible" in detail:
            print(f"::warning::token is read-only ({detail}); report in the step summary only")
            summary(f"read-only token: {detail}\n\n{body}")
            return 0
        print(f"::error::GitHub API {e.code} {e.reason}: {detail}")
        return 1
    out("comment-id", c["id"])
    out("comment-url", c["html_url"])
    summary(f"{body}\n\nsticky comment: {c['html_url']}")
    print(f"sticky comment {c['id']} ({'updated' if existing else 'created'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
