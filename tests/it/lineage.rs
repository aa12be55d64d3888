//! Lineage on a real project: the example's scikit-learn pipeline (prepare -> train ->
//! evaluate, metrics and plots inside the tracked `eval/` output), driven through the everyday
//! flow. Each commit must carry its own run, with the values its inputs produced.

use std::process::Stdio;

use crate::common::{BIN, TestEnv, example_project};

fn outcome(run: &serde_json::Value, stage: &str) -> String {
    run["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == stage)
        .map(|s| s["outcome"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn set_param(env: &TestEnv, from: &str, to: &str) {
    let p = String::from_utf8(env.read("params.yaml")).unwrap();
    assert!(p.contains(from), "{p}");
    env.write("params.yaml", p.replace(from, to));
}

fn metric(diff: &serde_json::Value, name: &str, side: &str) -> f64 {
    diff["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m[side]["mean"].as_f64())
        .unwrap_or_else(|| panic!("no {side} {name} in {diff}"))
}

#[test]
fn each_commit_carries_the_run_its_inputs_produced() {
    let env = TestEnv::new();
    example_project(&env);
    let run = env.git_ml(&["run", "--json"]);
    run.success();
    let a = run.json();
    for s in ["prepare", "train", "evaluate"] {
        assert_eq!(outcome(&a, s), "ran", "{a}");
    }
    let head = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    // The inputs are HEAD's; the outputs are not committed yet, so the commit that adds them
    // gets the run too.
    assert_eq!(a["recorded_on"], head.as_str(), "{a}");
    assert!(a["pending"].is_string(), "{a}");
    env.commit_all("reproduced");
    let main = env.git(&["rev-parse", "HEAD"]).trim().to_string();

    env.git(&["checkout", "-q", "-b", "bigger-forest"]);
    set_param(&env, "n_estimators: 20", "n_estimators: 100");
    let run = env.git_ml(&["run", "--json"]);
    run.success();
    let b = run.json();
    assert_eq!(outcome(&b, "prepare"), "skipped", "{b}");
    assert_eq!(outcome(&b, "train"), "ran", "{b}");
    assert_eq!(outcome(&b, "evaluate"), "ran", "{b}");
    assert!(
        b["recorded_on"].is_null(),
        "the run's params are not HEAD's: {b}"
    );
    assert!(b["pending"].is_string(), "{b}");
    env.commit_all("n_est 100");

    let diff = env.git_ml(&["diff", "main", "bigger-forest", "--json"]);
    diff.success();
    let d = diff.json();
    assert_eq!(d["old"]["commit"], main.as_str(), "{d}");
    assert_eq!(d["old"]["origin"], "record", "{d}");
    assert_eq!(d["new"]["origin"], "record", "{d}");
    assert!(
        (metric(&d, "accuracy", "old") - 0.947368).abs() < 1e-9,
        "{d}"
    );
    assert!(
        (metric(&d, "accuracy", "new") - 0.964912).abs() < 1e-9,
        "{d}"
    );
    let n_est = d["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "train.n_estimators")
        .unwrap();
    assert_eq!(
        (n_est["old"].as_i64(), n_est["new"].as_i64()),
        (Some(20), Some(100))
    );
    // Gates against the right baseline: main's numbers, not the branch's.
    let check = env.git_ml(&["check", "--base", "main", "--json"]);
    check.success();
    let c = check.json();
    assert_eq!(c["passed"], true, "{c}");
    assert_eq!(c["base"]["commit"], main.as_str(), "{c}");
    // The report shows the plots of both sides: Mermaid in Markdown, SVG in HTML.
    let md = env.git_ml(&["report", "--base", "main", "--format", "md"]);
    md.success();
    assert!(md.stdout.contains("### Plots"), "{}", md.stdout);
    assert!(
        md.stdout.contains("ROC curve") && md.stdout.contains("xychart-beta"),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains("Confusion matrix"), "{}", md.stdout);
    let html = env.git_ml(&["report", "--base", "main", "--format", "html"]);
    html.success();
    assert!(html.stdout.matches("<svg").count() >= 2, "{}", html.stdout);
    // Each commit's note has exactly its own run.
    let note_main = env.git(&["notes", "--ref", "refs/notes/gitml", "show", "main"]);
    assert_eq!(note_main.lines().count(), 1, "{note_main}");
    assert!(note_main.contains(a["recorded"].as_str().unwrap()));
    let note_b = env.git(&[
        "notes",
        "--ref",
        "refs/notes/gitml",
        "show",
        "bigger-forest",
    ]);
    assert!(note_b.contains(b["recorded"].as_str().unwrap()), "{note_b}");
    assert!(
        !note_b.contains(a["recorded"].as_str().unwrap()),
        "{note_b}"
    );

    // A breach: two trees. The gate fails against main, and the report says so.
    env.git(&["checkout", "-q", "-b", "tiny-forest", "main"]);
    env.git_ml(&["checkout"]).success();
    set_param(&env, "n_estimators: 20", "n_estimators: 2");
    env.git_ml(&["run", "-q"]).success();
    env.commit_all("n_est 2");
    let check = env.git_ml(&["check", "--base", "main", "--json"]);
    check.code(1);
    let c = check.json();
    let failed: Vec<&str> = c["gates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["verdict"] == "fail")
        .map(|g| g["metric"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["accuracy", "roc_auc"], "{c}");

    // Back to 20 trees: nothing is trained again, the run cache restores train and evaluate.
    set_param(&env, "n_estimators: 2", "n_estimators: 20");
    let run = env.git_ml(&["run", "--json"]);
    run.success();
    let r = run.json();
    assert_eq!(outcome(&r, "train"), "restored", "{r}");
    assert_eq!(outcome(&r, "evaluate"), "restored", "{r}");
}

#[test]
fn values_inside_tracked_outputs_are_read_at_old_revisions_through_the_remote() {
    let env = TestEnv::new();
    example_project(&env);
    let store = env.base.join("store");
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    env.commit_all("a remote");
    env.git_ml(&["run", "-q", "--no-record"]).success();
    env.commit_all("v1 outputs");
    env.git_ml(&["push", "-q"]).success();
    // A clone without notes (git clone does not fetch them) and with an empty cache: the values
    // of a commit come from eval/metrics.json inside the tracked eval/ directory.
    let clone = env.clone_repo();
    let r = clone.git_ml(&["show", "--json"]);
    r.success();
    let s = r.json();
    assert_eq!(s["origin"], "files", "{s}");
    assert_eq!(s["runs"][0]["metrics"]["accuracy"], 0.947368, "{s}");
    assert_eq!(s["runs"][0]["params"]["train.n_estimators"], 20, "{s}");
    // Only what was needed came down: not the model, not the data.
    let cached = clone.cache_objects().len();
    assert!(cached > 0 && cached < 10, "{cached} objects fetched");
    // Plots too: the ROC curve inside eval/, at that commit, from the remote.
    let plots = clone
        .git_ml(&["plots", "show", "HEAD", "--format", "json"])
        .success()
        .json();
    let roc = plots["plots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "roc")
        .unwrap_or_else(|| panic!("no roc plot: {plots}"));
    let points = roc["revisions"][0]["series"][0]["points"]
        .as_array()
        .unwrap();
    assert!(points.len() > 5, "{roc}");
    let log = clone.git_ml(&["log", "--json"]).success().json();
    let first = &log["entries"][0];
    assert_eq!(first["origin"], "files", "{log}");
    assert_eq!(first["metrics"]["accuracy"], 0.947368, "{log}");
    // Without a remote to fetch from, a warning says how to get them; nothing fails.
    let bare = env.clone_repo();
    let toml = String::from_utf8(bare.read("gitml.toml")).unwrap();
    let cut = toml.find("[remotes.store]").unwrap();
    bare.write("gitml.toml", &toml[..cut]);
    let r = bare.git_ml(&["-c", "core.remote=", "show", "HEAD~0"]);
    assert!(r.code == 0, "{}", r.stderr);
}

#[test]
fn a_pending_run_is_adopted_exactly_once_by_two_processes_at_once() {
    let env = TestEnv::new();
    example_project(&env);
    env.git_ml(&["run", "-q", "--no-record"]).success();
    env.commit_all("v1");
    set_param(&env, "max_depth: 4", "max_depth: 3");
    let r = env.git_ml(&["run", "--json"]).success().json();
    let id = r["recorded"].as_str().unwrap().to_string();
    assert!(r["recorded_on"].is_null(), "{r}");
    env.commit_all("depth 3");
    let spawn = || {
        env.command(BIN, &env.root)
            .args(["show", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (one, two) = (spawn(), spawn());
    for c in [one, two] {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["origin"], "record", "{v}");
    }
    let note = env.git(&["notes", "--ref", "refs/notes/gitml", "show", "HEAD"]);
    assert_eq!(note.matches(&id).count(), 1, "{note}");
    assert_eq!(
        env.git_ml(&["show", "--pending", "--json"])
            .success()
            .json(),
        serde_json::json!([])
    );
}
