//! The GitHub Action, end to end: the real workflow runner (`act`, in host mode) runs this
//! repository's `action.yml` from the template workflow on a real project (the example's
//! scikit-learn pipeline, data on SeaweedFS), against a fake GitHub API on loopback that answers
//! with the real API's shapes (tests/github/fake_github.py) and events built from GitHub's own
//! webhook examples (tests/github/events.py). What the job posted, set and pushed is read back
//! from the fake and from the bare origin.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{BIN, TestEnv, example_project};
use crate::seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed};

const REPO: &str = "acme/widgets";
const WRITE: &str = "ghs_write_token_for_tests";
const READ: &str = "ghs_read_only_token_for_tests";

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tool(name: &str) -> PathBuf {
    manifest().join("target/test-tools/bin").join(name)
}

/// The fake GitHub API, on a free loopback port; stopped when dropped.
struct FakeGitHub {
    child: Child,
    port: u16,
}

impl FakeGitHub {
    fn start(dir: &Path, state: &Value) -> FakeGitHub {
        let state_file = dir.join("fake-state.json");
        let ready = dir.join("fake-ready");
        std::fs::write(&state_file, state.to_string()).unwrap();
        let child = Command::new(tool("python"))
            .arg(manifest().join("tests/github/fake_github.py"))
            .args(["--port", "0", "--state"])
            .arg(&state_file)
            .arg("--ready")
            .arg(&ready)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the fake GitHub (scripts/test installs the test tools)");
        let t0 = Instant::now();
        while !ready.exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "the fake GitHub did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let port = std::fs::read_to_string(&ready)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        FakeGitHub { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn get(&self, path: &str) -> Value {
        let (code, body) =
            crate::seaweed::http(self.port, "GET", path, b"").expect("the fake GitHub answers");
        assert_eq!(code, 200);
        serde_json::from_slice(&body).unwrap()
    }

    fn merge_state(&self, extra: &Value) {
        let (code, body) = crate::seaweed::http(
            self.port,
            "POST",
            "/_fake/state?mode=merge",
            extra.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    }

    fn comments(&self, issue: u64) -> Vec<Value> {
        self.get("/_fake/state")["comments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["issue"] == issue && c["user"] == "github-actions[bot]")
            .cloned()
            .collect()
    }

    fn statuses(&self, sha: &str) -> Vec<Value> {
        self.get("/_fake/state")["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["sha"] == sha)
            .cloned()
            .collect()
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An event payload from GitHub's own examples (tests/github/events.py).
fn event(dir: &Path, kind: &str, fake: &FakeGitHub, args: &[&str]) -> PathBuf {
    let out = dir.join(format!("event-{kind}-{}.json", args.join("-").len()));
    let status = Command::new(tool("python"))
        .arg(manifest().join("tests/github/events.py"))
        .arg(kind)
        .args([
            "--repo",
            REPO,
            "--api-url",
            &fake.url(),
            "--server-url",
            "https://github.com",
        ])
        .args(args)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "events.py {kind}");
    out
}

struct Act {
    code: i32,
    log: Vec<Value>,
    stderr: String,
}

impl Act {
    /// The distinct values a step output took (act logs a composite's outputs twice).
    fn outputs(&self, name: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .log
            .iter()
            .filter(|l| l["command"] == "set-output" && l["name"] == name)
            .map(|l| l["arg"].as_str().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn job(&self) -> Option<&str> {
        self.log.iter().rev().find_map(|l| l["jobResult"].as_str())
    }

    fn text(&self) -> String {
        self.log
            .iter()
            .filter_map(|l| l["msg"].as_str())
            .collect::<Vec<_>>()
            .join("")
    }

    fn summary(&self) -> String {
        self.log
            .iter()
            .filter(|l| l["command"] == "summary")
            .filter_map(|l| l["content"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Run the workflow for `event_name` with act, on the host, hermetically.
fn act(env: &TestEnv, fake: &FakeGitHub, event_name: &str, event: &Path, token: &str) -> Act {
    let home = env.base.join("act-home");
    std::fs::create_dir_all(&home).unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}:/usr/local/bin:/usr/bin:/bin",
        bin_dir.display(),
        manifest().join("target/test-tools/bin").display()
    );
    let out = Command::new(tool("act"))
        .current_dir(&env.root)
        .env_clear()
        .env("PATH", &path)
        .env("HOME", &home)
        .env("LANG", "C.UTF-8")
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("GIT_CONFIG_GLOBAL", env.home.join(".gitconfig"))
        .env("GIT_CONFIG_SYSTEM", env.home.join("empty-config"))
        .arg(event_name)
        .arg("-e")
        .arg(event)
        .args(["-W", ".github/workflows/git-ml.yml", "-j", "train"])
        .args([
            "-P",
            "ubuntu-latest=-self-hosted",
            "--container-daemon-socket",
            "-",
        ])
        .args(["--pull=false", "--action-offline-mode", "--no-cache-server"])
        .arg("--action-cache-path")
        .arg(env.base.join("act-cache"))
        .args(["--env-file", "/dev/null", "--secret-file", "/dev/null"])
        .args(["--var-file", "/dev/null", "--input-file", "/dev/null"])
        .args(["--defaultbranch", "main", "--actor", "alice"])
        .arg("--env")
        .arg(format!("GITHUB_API_URL={}", fake.url()))
        .args(["--env", "GITHUB_SERVER_URL=https://github.com"])
        .arg("--env")
        .arg(format!("GITHUB_REPOSITORY={REPO}"))
        .args(["--env", "GITML_CI_BACKOFF_MS=20"])
        .arg("-s")
        .arg(format!("GITHUB_TOKEN={token}"))
        .arg("-s")
        .arg(format!("AWS_ACCESS_KEY_ID={ACCESS_KEY}"))
        .arg("-s")
        .arg(format!("AWS_SECRET_ACCESS_KEY={SECRET_KEY}"))
        .arg("--json")
        .stdin(Stdio::null())
        .output()
        .expect("run act (scripts/test-tools-github installs it)");
    let log = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Act {
        code: out.status.code().unwrap_or(-1),
        log,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The example project with its data on a SeaweedFS bucket, a bare origin, the action and the
/// template workflow (as a user would have them, the action used from this checkout).
fn project(server: &Seaweed) -> (TestEnv, PathBuf) {
    let env = TestEnv::new();
    example_project(&env);
    // main is trained: its run is the baseline a pull request is gated against.
    env.git_ml(&["run", "-q"]).success();
    env.commit_all("trained");
    let bucket = server.bucket("action");
    env.git_ml(&[
        "remote",
        "add",
        "store",
        &format!("s3://{bucket}/ml"),
        "--endpoint",
        &server.endpoint(),
    ])
    .success();
    // The action, as `uses: ./` finds it, and the template workflow pointed at it.
    std::fs::copy(manifest().join("action.yml"), env.path("action.yml")).unwrap();
    for f in ["install.sh", "run.sh"] {
        env.write(
            &format!("action/{f}"),
            std::fs::read(manifest().join("action").join(f)).unwrap(),
        );
    }
    let workflow = std::fs::read_to_string(manifest().join("templates/workflows/git-ml.yml"))
        .unwrap()
        .replace("uses: OWNER/git-ml@v0", "uses: ./")
        .replace(
            "        with:\n",
            "        env:\n          AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}\n          AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}\n        with:\n          install: path\n",
        );
    env.write(".github/workflows/git-ml.yml", workflow);
    env.commit_all("ci");
    let keys = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    let push = env
        .command(BIN, &env.root)
        .args(["push", "-q", "--no-notes"])
        .envs(keys)
        .output()
        .unwrap();
    assert!(
        push.status.success(),
        "{}",
        String::from_utf8_lossy(&push.stderr)
    );
    let origin = env.base.join("origin.git");
    env.git(&["init", "-q", "--bare", origin.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", origin.to_str().unwrap()]);
    env.git(&["push", "-q", "origin", "main"]);
    env.git(&["push", "-q", "origin", "refs/notes/gitml"]);
    (env, origin)
}

fn set_param(env: &TestEnv, from: &str, to: &str) {
    let p = String::from_utf8(env.read("params.yaml")).unwrap();
    env.write("params.yaml", p.replace(from, to));
}

fn head(env: &TestEnv) -> String {
    env.git(&["rev-parse", "HEAD"]).trim().to_string()
}

fn pull(number: u64, head_ref: &str, head: &str, base: &str, fork: bool) -> Value {
    json!({
        "repo": REPO, "number": number, "user": if fork { "mallory" } else { "alice" },
        "title": "@octocat try this", "state": "open",
        "head": {"ref": head_ref, "sha": head, "repo": if fork { "mallory/widgets" } else { REPO }},
        "base": {"ref": "main", "sha": base},
        "commits": [head]
    })
}

#[test]
fn the_action_trains_reports_gates_and_promotes_through_a_real_runner() {
    let server = Seaweed::shared();
    let (env, origin) = project(server);
    let main = head(&env);

    // A pull request: a bigger forest.
    env.git(&["checkout", "-q", "-b", "bigger-forest"]);
    set_param(&env, "n_estimators: 20", "n_estimators: 100");
    // Stage output that looks like a workflow command must not be read as one.
    let evaluate = String::from_utf8(env.read("src/evaluate.py")).unwrap();
    env.write(
        "src/evaluate.py",
        format!(
            "{evaluate}\nprint('::set-output name=verdict::hacked')\nprint('::add-mask::secret')\n"
        ),
    );
    env.commit_all("n_estimators 100");
    env.git(&["push", "-q", "origin", "bigger-forest"]);
    let pr_head = head(&env);
    let fake = FakeGitHub::start(
        &env.base,
        &json!({
            "repos": {REPO: {"default_branch": "main"}},
            "tokens": {WRITE: {"kind": "integration", "write": true},
                       READ: {"kind": "integration", "write": false, "name": "fork-token"}},
            "pulls": [pull(7, "bigger-forest", &pr_head, &main, false)],
            // Other people's comments, over two pages: the sticky one must be found past them.
            "comments": [{"repo": REPO, "issue": 7, "user": "bob", "body": "noise {n}", "repeat": 120}]
        }),
    );
    let opened = event(
        &env.base,
        "pull_request.opened",
        &fake,
        &[
            "--number",
            "7",
            "--head-sha",
            &pr_head,
            "--base-sha",
            &main,
            "--head-ref",
            "bigger-forest",
        ],
    );
    let run = act(&env, &fake, "pull_request", &opened, WRITE);
    assert_eq!(run.code, 0, "{}\n{}", run.text(), run.stderr);
    assert_eq!(run.job(), Some("success"));
    assert_eq!(run.outputs("verdict"), ["pass"], "{}", run.text());
    // The stage printed `::set-output name=verdict::hacked` and `::add-mask::`: neither was taken
    // as a workflow command (it ran between ::stop-commands:: markers).
    assert!(
        run.text().contains("::set-output name=verdict::hacked"),
        "{}",
        run.text()
    );
    assert!(
        !run.log.iter().any(|l| l["command"] == "add-mask"),
        "{}",
        run.text()
    );
    let comments = fake.comments(7);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let body = comments[0]["body"].as_str().unwrap();
    assert!(
        body.contains("<!-- git-ml report:") && body.contains("**Gates: PASS**"),
        "{body}"
    );
    assert!(
        body.contains("xychart-beta"),
        "no plots in the comment: {body}"
    );
    assert!(!body.contains("@octocat"), "{body}");
    let statuses = fake.statuses(&pr_head);
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0]["state"], "success");
    assert!(run.summary().contains("git-ml report"), "{}", run.summary());
    // The run is on the PR head, in the origin's notes.
    let note = env.git_in(
        &origin,
        &["notes", "--ref", "refs/notes/gitml", "show", &pr_head],
    );
    assert!(
        note.contains("\"kind\":\"ci\"") && note.contains("accuracy"),
        "{note}"
    );

    // A second push to the pull request: the same comment is updated, not a new one.
    let readme = String::from_utf8(env.read("README.md")).unwrap();
    env.write("README.md", format!("{readme}\nMore trees.\n"));
    env.commit_all("readme");
    env.git(&["push", "-q", "origin", "bigger-forest"]);
    let pr_head2 = head(&env);
    fake.merge_state(&json!({"pulls": [pull(7, "bigger-forest", &pr_head2, &main, false)]}));
    let sync = event(
        &env.base,
        "pull_request.synchronize",
        &fake,
        &[
            "--number",
            "7",
            "--head-sha",
            &pr_head2,
            "--base-sha",
            &main,
            "--head-ref",
            "bigger-forest",
        ],
    );
    let run = act(&env, &fake, "pull_request", &sync, WRITE);
    assert_eq!(run.code, 0, "{}\n{}", run.text(), run.stderr);
    let comments = fake.comments(7);
    assert_eq!(comments.len(), 1, "duplicated: {comments:?}");
    let requests = fake.get("/_fake/requests");
    assert!(
        requests
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["method"] == "PATCH"),
        "the comment was not updated"
    );

    // A gate breach: two trees. The job fails, and the report is still posted.
    env.git(&["checkout", "-q", "-b", "tiny-forest", "main"]);
    env.git_ml(&["checkout", "-q"]).success();
    set_param(&env, "n_estimators: 20", "n_estimators: 2");
    env.commit_all("n_estimators 2");
    env.git(&["push", "-q", "origin", "tiny-forest"]);
    let tiny = head(&env);
    fake.merge_state(&json!({"pulls": [pull(8, "tiny-forest", &tiny, &main, false)]}));
    let breach = event(
        &env.base,
        "pull_request.opened",
        &fake,
        &[
            "--number",
            "8",
            "--head-sha",
            &tiny,
            "--base-sha",
            &main,
            "--head-ref",
            "tiny-forest",
        ],
    );
    let run = act(&env, &fake, "pull_request", &breach, WRITE);
    assert_ne!(run.code, 0, "a gate breach passed: {}", run.text());
    assert_eq!(run.job(), Some("failure"));
    let comments = fake.comments(8);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0]["body"]
            .as_str()
            .unwrap()
            .contains("**Gates: FAIL**")
    );
    assert_eq!(fake.statuses(&tiny)[0]["state"], "failure");

    // A fork's pull request: read-only token, no secrets; the summary has the report, no failure.
    env.git(&["checkout", "-q", "bigger-forest"]);
    fake.merge_state(&json!({"pulls": [pull(9, "patch-1", &pr_head2, &main, true)]}));
    let fork = event(
        &env.base,
        "pull_request.fork",
        &fake,
        &[
            "--number",
            "9",
            "--head-sha",
            &pr_head2,
            "--base-sha",
            &main,
            "--head-ref",
            "patch-1",
            "--fork-owner",
            "mallory",
        ],
    );
    let run = act(&env, &fake, "pull_request", &fork, READ);
    assert_eq!(run.code, 0, "{}\n{}", run.text(), run.stderr);
    assert!(fake.comments(9).is_empty());
    assert!(run.summary().contains("Gates: PASS"), "{}", run.summary());
    assert!(
        run.summary().contains("read-only") || run.summary().contains("not posted"),
        "{}",
        run.summary()
    );

    // The merge: the merged tree is the PR head's, so its runs are copied, the model is
    // registered and promoted to staging, tags and notes go to the origin.
    env.git(&["checkout", "-q", "main"]);
    env.git(&["merge", "-q", "--no-ff", "-m", "Merge #7", "bigger-forest"]);
    env.git_ml(&["checkout", "-q"]).success();
    env.git(&["push", "-q", "origin", "main"]);
    let merge_commit = head(&env);
    let mut merged = pull(7, "bigger-forest", &pr_head2, &main, false);
    merged["merged"] = json!(true);
    merged["state"] = json!("closed");
    merged["merge_commit_sha"] = json!(merge_commit);
    fake.merge_state(&json!({"pulls": [merged]}));
    let push = event(
        &env.base,
        "push",
        &fake,
        &[
            "--ref",
            "refs/heads/main",
            "--head-sha",
            &merge_commit,
            "--before",
            &main,
        ],
    );
    let run = act(&env, &fake, "push", &push, WRITE);
    assert_eq!(run.code, 0, "{}\n{}", run.text(), run.stderr);
    assert_eq!(run.outputs("promoted-stage"), ["staging"], "{}", run.text());
    let tags = env.git_in(&origin, &["tag", "-l"]);
    assert!(tags.contains("tumor-classifier@v0.1.0"), "{tags}");
    assert!(tags.contains("tumor-classifier#staging#"), "{tags}");
    let note = env.git_in(
        &origin,
        &["notes", "--ref", "refs/notes/gitml", "show", &merge_commit],
    );
    assert!(note.contains("accuracy"), "{note}");
    assert!(
        run.text().contains("copied"),
        "it trained again: {}",
        run.text()
    );
    let told = fake.comments(7);
    assert!(
        told.iter().any(|c| {
            let b = c["body"].as_str().unwrap();
            b.contains("Promoted: tumor-classifier\\#staging\\#")
                && b.contains("Registered tumor-classifier@")
        }),
        "{told:?}"
    );
}

#[test]
fn actionlint_accepts_the_action_templates_and_workflows() {
    let env = TestEnv::new();
    for dir in ["templates/workflows", ".github/workflows"] {
        for e in std::fs::read_dir(manifest().join(dir)).unwrap().flatten() {
            let text = std::fs::read_to_string(e.path())
                .unwrap()
                .replace("OWNER/git-ml@v0", "./");
            env.write(
                &format!(".github/workflows/{}", e.file_name().to_string_lossy()),
                text,
            );
        }
    }
    // The workflows the README and docs/ci.md show, as a user would paste them.
    for (doc, name) in [("README.md", "readme.yml"), ("docs/ci.md", "ci-doc.yml")] {
        let text = std::fs::read_to_string(manifest().join(doc)).unwrap();
        let start = text.find("```yaml\n").expect("a workflow") + 8;
        let end = start + text[start..].find("```").unwrap();
        env.write(
            &format!(".github/workflows/{name}"),
            text[start..end].replace("OWNER/git-ml@v0", "./"),
        );
    }
    std::fs::copy(manifest().join("action.yml"), env.path("action.yml")).unwrap();
    let out = Command::new(tool("actionlint"))
        .current_dir(&env.root)
        .env(
            "PATH",
            format!(
                "{}:/usr/bin:/bin",
                manifest().join("target/test-tools/bin").display()
            ),
        )
        .arg("-no-color")
        .output()
        .expect("actionlint (scripts/test-tools-github installs it)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it is live: a workflow that reads an output the action does not have fails.
    env.write(
        ".github/workflows/broken.yml",
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v5\n      - id: g\n        uses: ./\n      - run: echo \"${{ steps.g.outputs.nope }}\"\n",
    );
    let out = Command::new(tool("actionlint"))
        .current_dir(&env.root)
        .env(
            "PATH",
            format!(
                "{}:/usr/bin:/bin",
                manifest().join("target/test-tools/bin").display()
            ),
        )
        .arg("-no-color")
        .output()
        .unwrap();
    assert!(!out.status.success(), "actionlint passed a broken workflow");
}

#[test]
fn the_fake_github_api_answers_with_githubs_own_shapes() {
    // Every answer of the fake, checked against GitHub's OpenAPI description (@octokit/openapi).
    let out = Command::new(tool("python"))
        .arg(manifest().join("tests/github/check_shapes.py"))
        .output()
        .expect("run check_shapes.py");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(", 0 failed"), "{text}");
}
