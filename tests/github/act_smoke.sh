#!/usr/bin/env bash
# End-to-end smoke of the GitHub Action test rig, offline: the real workflow runner `act` (host
# mode, no Docker) runs a workflow with actions/checkout@v4 and a local composite action
# (tests/github/smoke/, a stand-in for git-ml's action.yml) against the fake GitHub API
# (tests/github/fake_github.py) with event payloads built from real webhook examples
# (tests/github/events.py). Four runs: a PR whose sticky comment sits on page 2 (updated, plus a
# commit status), a fork PR with a read-only token, a failing API (act's exit code), and a push
# to main that finds its merged PR. The model for the Rust end-to-end tests; see README.md.
#
#   bash tests/github/act_smoke.sh        (after scripts/test-tools-github)
#   KEEP=1 bash tests/github/act_smoke.sh keeps the scratch directory and prints its path
# Last line: `act_smoke: N passed, N failed`; exit 1 on a failure, 2 when it cannot run.
# shellcheck disable=SC2016  # the Python expressions and Markdown backticks below are meant literally
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tools="${GITML_TEST_TOOLS:-$root/target/test-tools}"
act="$tools/bin/act"
actionlint="$tools/bin/actionlint"
py="$tools/bin/python"
for f in "$act" "$actionlint" "$py"; do
  [ -x "$f" ] || { echo "error: $f is missing; hint: run scripts/test-tools-github" >&2; exit 2; }
done
command -v git >/dev/null || { echo "error: git not found" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/act-smoke.XXXXXX")"
fake_pid=""
cleanup() {
  if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; fi
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

passed=0 failed=0
check() { # check NAME COMMAND... : one assertion
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; fi
}
# jtrue FILE EXPR: EXPR (Python, over d = the JSON in FILE, or the list of JSON lines of a .jsonl) is true
jtrue() {
  "$py" - "$1" "$2" <<'EOF'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    d = [json.loads(l) for l in f if l.startswith("{")] if path.endswith(".jsonl") else json.load(f)
ok = eval(expr, {"d": d, "any": any, "all": all, "len": len})
if not ok:
    print(f"  (false: {expr})", file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
}
# fake METHOD PATH [JSON] > out: call the fake's control API
fake() {
  "$py" - "$api" "$@" <<'EOF'
import sys, urllib.request
api, method, path = sys.argv[1:4]
data = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(api + path, data=data, method=method)
with urllib.request.urlopen(req, timeout=10) as r:
    sys.stdout.write(r.read().decode())
EOF
}

# ---- a scratch repository: the composite action at its root, the workflow, origin acme/widgets
repo="$work/repo"
git init -q -b main "$repo"
git -C "$repo" config user.name "Smoke Test"
git -C "$repo" config user.email smoke@example.com
git -C "$repo" config commit.gpgsign false
echo base > "$repo/README.md"
git -C "$repo" add README.md && git -C "$repo" commit -qm base
base_sha="$(git -C "$repo" rev-parse HEAD)"
mkdir -p "$repo/.github/workflows"
cp "$here/smoke/action.yml" "$here/smoke/sticky.py" "$repo/"
cp "$here/smoke/workflow.yml" "$repo/.github/workflows/smoke.yml"
git -C "$repo" add -A && git -C "$repo" commit -qm "the action"
head_sha="$(git -C "$repo" rev-parse HEAD)"   # act sets GITHUB_SHA to this, whatever the event says
git -C "$repo" remote add origin https://github.com/acme/widgets.git  # act derives GITHUB_REPOSITORY from it

# actionlint lints workflows (it finds .github/workflows from the repository root); of a local
# action (`uses: ./`) it checks the metadata (runs.using, input and output names), not its steps.
lint() { (cd "$repo" && PATH="$tools/bin:$PATH" "$actionlint" -no-color "$@") > "$work/actionlint.txt" 2>&1; }
check "actionlint passes the workflow and the action" lint
sed 's/steps.gitml.outputs.comment-id/steps.gitml.outputs.no-such-output/' \
  "$repo/.github/workflows/smoke.yml" > "$repo/broken.yml"
lint_rejects() { ! lint "$@" && grep -q 'property "no-such-output" is not defined' "$work/actionlint.txt"; }
check "actionlint catches an output the action does not declare" lint_rejects broken.yml
rm "$repo/broken.yml"

# ---- the fake API, seeded: PR 7 (sticky comment on page 2), fork PR 8, merged PR 5
cat > "$work/state.json" <<EOF
{
  "repos": {"acme/widgets": {"default_branch": "main"}},
  "tokens": {
    "ghs_smoke_write": {"kind": "integration", "write": true},
    "ghs_smoke_read": {"kind": "integration", "write": false, "name": "fork-read-only"}
  },
  "pulls": [
    {"repo": "acme/widgets", "number": 7, "user": "alice", "title": "Add data",
     "head": {"ref": "feature", "sha": "$head_sha"}, "base": {"ref": "main", "sha": "$base_sha"}},
    {"repo": "acme/widgets", "number": 8, "user": "contributor",
     "head": {"ref": "patch-1", "sha": "$head_sha", "repo": "contributor/widgets"}, "base": {"sha": "$base_sha"}},
    {"repo": "acme/widgets", "number": 5, "user": "alice", "merged": true, "merge_commit_sha": "$head_sha",
     "head": {"ref": "old", "sha": "5555555555555555555555555555555555555555"}, "base": {"sha": "$base_sha"}}
  ],
  "comments": [
    {"repo": "acme/widgets", "issue": 7, "user": "bob", "body": "noise {n}", "repeat": 120},
    {"repo": "acme/widgets", "issue": 7, "user": "github-actions[bot]", "id": 3999000001,
     "body": "<!-- git-ml-smoke -->\nold report"}
  ]
}
EOF
"$py" "$here/fake_github.py" --port 0 --state "$work/state.json" --ready "$work/ready" 2>"$work/fake.log" &
fake_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
[ -s "$work/ready" ] || { echo "error: fake_github.py did not start:" >&2; cat "$work/fake.log" >&2; exit 2; }
api="http://127.0.0.1:$(cat "$work/ready")"
web="https://github.com"

event() { # event FILE KIND [events.py options]
  local out=$1 kind=$2; shift 2
  "$py" "$here/events.py" "$kind" --repo acme/widgets --api-url "$api" --server-url "$web" \
    --head-sha "$head_sha" --base-sha "$base_sha" -o "$out" "$@"
}

# run_act NAME EVENT_NAME EVENT_FILE TOKEN: the act command line the Rust tests copy
run_act() {
  local name=$1 ev=$2 file=$3 token=$4
  (cd "$repo" && env -i PATH="$PATH" HOME="$work/home" LANG=C.UTF-8 \
    XDG_CONFIG_HOME="$work/home/.config" XDG_CACHE_HOME="$work/home/.cache" \
    "$act" "$ev" -e "$file" -W .github/workflows/smoke.yml -j report \
      -P ubuntu-latest=-self-hosted --container-daemon-socket - --pull=false \
      --action-offline-mode --no-cache-server --action-cache-path "$work/act-cache" \
      --env-file /dev/null --secret-file /dev/null --var-file /dev/null --input-file /dev/null \
      --defaultbranch main --actor acme \
      --env GITHUB_API_URL="$api" --env GITHUB_SERVER_URL="$web" --env GITHUB_GRAPHQL_URL="$api/graphql" \
      -s GITHUB_TOKEN="$token" --json \
    ) >"$work/$name.jsonl" 2>"$work/$name.stderr" </dev/null
}

scenario() { # scenario NAME: run, then save the fake's request log and state
  local name=$1; shift
  local rc=0
  fake DELETE /_fake/requests >/dev/null
  run_act "$name" "$@" || rc=$?
  echo "$rc" > "$work/$name.rc"
  fake GET /_fake/requests > "$work/$name.requests.json"
  fake GET /_fake/state > "$work/$name.state.json"
  echo "-- $name: act exit $rc"
}

# 1. pull_request: sticky comment found on page 2 (120 others first) and updated; status set
event "$work/pr.json" pull_request.opened --number 7
scenario pr pull_request "$work/pr.json" ghs_smoke_write
check "pr: act exits 0" jtrue "$work/pr.rc" 'd == 0'
check "pr: job succeeded" jtrue "$work/pr.jsonl" 'any(r.get("jobResult") == "success" for r in d)'
check "pr: followed Link to page 2" jtrue "$work/pr.requests.json" \
  'any(r["path"].startswith("/repositories/") and r["params"].get("page") == "2" for r in d)'
check "pr: PATCHed the existing sticky comment, as github-actions[bot]" jtrue "$work/pr.requests.json" \
  '[(r["method"], r["path"], r["token"], r["status"]) for r in d if r["method"] in ("POST", "PATCH") and "comments" in r["path"]] == [("PATCH", "/repos/acme/widgets/issues/comments/3999000001", "github-actions[bot]", 200)]'
check "pr: status on pull_request.head.sha" jtrue "$work/pr.requests.json" \
  "[(r['path'], r['body']['state'], r['status']) for r in d if '/statuses/' in r['path']] == [('/repos/acme/widgets/statuses/$head_sha', 'success', 201)]"
check "pr: stored comment has the new body" jtrue "$work/pr.state.json" \
  'any(c["id"] == 3999000001 and "PR #7" in c["body"] for c in d["comments"])'
check "pr: composite output reached the next step" jtrue "$work/pr.jsonl" \
  'any("outputs comment-id=3999000001 comment-url=https://github.com/acme/widgets/pull/7#issuecomment-3999000001" in r.get("msg", "") for r in d)'
check "pr: step summary in act's JSON log" jtrue "$work/pr.jsonl" \
  'any(r.get("command") == "summary" and "sticky comment: https://github.com/acme/widgets/pull/7" in r["content"] for r in d)'

# 2. fork PR, read-only token: every write answers 403; the action reports in the summary only
event "$work/fork.json" pull_request.fork --number 8 --fork-owner contributor --head-ref patch-1
scenario fork pull_request "$work/fork.json" ghs_smoke_read
check "fork: act exits 0" jtrue "$work/fork.rc" 'd == 0'
check "fork: writes were refused with 403" jtrue "$work/fork.requests.json" \
  '[r["status"] for r in d if r["method"] != "GET"] == [403] and all(r["token"] == "fork-read-only" for r in d)'
check "fork: nothing stored on PR 8" jtrue "$work/fork.state.json" 'not any(c["issue"] == 8 for c in d["comments"])'
check "fork: summary says read-only" jtrue "$work/fork.jsonl" \
  'any(r.get("command") == "summary" and "read-only token" in r["content"] for r in d)'

# 3. the API fails (502 on the status): the step fails, act exits 1
fake POST '/_fake/state?mode=merge' '{"faults": [{"method": "POST", "path": "/repos/*/statuses/*", "kind": "502", "count": 1}]}' >/dev/null
scenario fail pull_request "$work/pr.json" ghs_smoke_write
check "fail: act exits 1" jtrue "$work/fail.rc" 'd == 1'
check "fail: job failed" jtrue "$work/fail.jsonl" 'any(r.get("jobResult") == "failure" for r in d)'
check "fail: the 502 was served" jtrue "$work/fail.requests.json" 'any(r.get("fault") == "502" for r in d)'

# 4. push to main: the merged PR of the pushed commit gets a (new) sticky comment
event "$work/push.json" push
scenario push push "$work/push.json" ghs_smoke_write
check "push: act exits 0" jtrue "$work/push.rc" 'd == 0'
check "push: looked up the commit's PRs" jtrue "$work/push.requests.json" \
  "any(r['path'] == '/repos/acme/widgets/commits/$head_sha/pulls' for r in d)"
check "push: commented on merged PR 5" jtrue "$work/push.state.json" \
  'any(c["issue"] == 5 and "event `push`" in c["body"] and c["user"] == "github-actions[bot]" for c in d["comments"])'

if [ "$failed" -gt 0 ]; then
  echo "logs in $work (act JSON logs *.jsonl, fake requests *.requests.json); rerun with KEEP=1 to keep them" >&2
fi
echo "act_smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
