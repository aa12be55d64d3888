//! Run records (git notes), `show`, `log`, `diff`, and sharing them through a real bare remote.

use std::process::Stdio;

use crate::common::{BIN, TestEnv, bytes};

const PROJECT: &str = r#"
[metrics]
files = ["metrics.json"]

[params]
files = ["params.yaml"]

[models.clf]
path = "model.bin"
"#;

/// A repository with declared metrics/params files, a model and a data directory, committed.
fn setup() -> TestEnv {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(PROJECT);
    env.write("gitml.toml", toml);
    env.write("metrics.json", r#"{"acc": 0.80, "loss": {"train": 0.50}}"#);
    env.write("params.yaml", "lr: 0.01\nepochs: 5\n");
    env.write("model.bin", bytes(1, 5000));
    env.write("data/a.csv", "1,2\n");
    env.write("data/b.csv", "3,4\n");
    env.git_ml(&["add", "model.bin", "data"]).success();
    env.commit_all("v1");
    env
}

fn v2(env: &TestEnv) {
    env.git(&["checkout", "-q", "-b", "exp"]);
    env.write("metrics.json", r#"{"acc": 0.90, "loss": {"train": 0.30}}"#);
    env.write("params.yaml", "lr: 0.02\nepochs: 5\n");
    env.write("model.bin", bytes(2, 6000));
    env.write("data/c.csv", "5,6\n");
    std::fs::remove_file(env.path("data/a.csv")).unwrap();
    env.git_ml(&["add", "model.bin", "data"]).success();
    env.commit_all("v2");
}

fn metric<'a>(diff: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    diff["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name} in {diff}"))
}

#[test]
fn record_show_log_and_diff_between_branches() {
    let env = setup();
    env.git_ml(&[
        "record",
        "--command",
        "python train.py",
        "--duration",
        "3.5",
    ])
    .success();
    env.git_ml(&["record", "--metric", "acc=0.82", "--tag", "seed=2"])
        .success();
    v2(&env);
    let rec = env.git_ml(&["record", "--json"]).success().json();
    assert_eq!(rec["run"]["metrics"]["acc"], 0.9);
    assert_eq!(rec["run"]["params"]["lr"], 0.02);
    assert_eq!(rec["run"]["source"]["kind"], "local");
    assert!(
        rec["run"]["models"]["clf"]
            .as_str()
            .unwrap()
            .starts_with("blake3:")
    );
    assert!(
        rec["run"]["data"]["data"]
            .as_str()
            .unwrap()
            .starts_with("blake3:")
    );

    let show = env.git_ml(&["show", "main", "--json"]).success().json();
    assert_eq!(show["origin"], "record");
    assert_eq!(show["runs"].as_array().unwrap().len(), 2);
    assert!(
        show["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["command"] == "python train.py"),
        "{show}"
    );

    let d = env
        .git_ml(&["diff", "main", "exp", "--json"])
        .success()
        .json();
    assert_eq!(d["old"]["origin"], "record");
    assert_eq!(d["old"]["runs"], 2);
    let acc = metric(&d, "acc");
    assert!(
        (acc["old"]["mean"].as_f64().unwrap() - 0.81).abs() < 1e-9,
        "{acc}"
    );
    assert_eq!(acc["old"]["n"], 2);
    assert!((acc["change"].as_f64().unwrap() - 0.09).abs() < 1e-9);
    assert!((acc["relative"].as_f64().unwrap() - 0.09 / 0.81).abs() < 1e-9);
    let lr = d["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "lr")
        .unwrap();
    assert_eq!(
        (lr["old"].as_f64(), lr["new"].as_f64()),
        (Some(0.01), Some(0.02))
    );
    let data = d["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "data")
        .unwrap();
    assert_eq!(data["status"], "modified");
    assert_eq!(data["files"]["added"][0], "data/c.csv");
    assert_eq!(data["files"]["removed"][0], "data/a.csv");
    assert_eq!(d["models"][0]["changed"], true);
    // Unchanged params are left out unless --all.
    assert!(
        !d["params"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "epochs" && p["changed"] == true)
    );

    let text = env
        .git_ml(&["diff", "main", "exp"])
        .success()
        .stdout
        .clone();
    assert!(text.contains("0.8100 ± 0.0141 (n=2)"), "{text}");
    assert!(text.contains("+11.1%"), "{text}");
    assert!(!text.contains("epochs"), "{text}");
    let all = env
        .git_ml(&["diff", "main", "exp", "--all"])
        .success()
        .stdout
        .clone();
    assert!(all.contains("epochs"), "{all}");
    let md = env
        .git_ml(&["diff", "main", "exp", "--md"])
        .success()
        .stdout
        .clone();
    assert!(md.contains("| Metric |") && md.contains("| --- |"), "{md}");
    assert!(md.contains("loss.train"), "{md}");

    let log = env.git_ml(&["log", "--json"]).success().json();
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["metrics"]["acc"], 0.9);
    assert!((entries[1]["metrics"]["acc"].as_f64().unwrap() - 0.81).abs() < 1e-9);
    let table = env
        .git_ml(&["log", "--metric", "acc"])
        .success()
        .stdout
        .clone();
    assert!(table.contains("acc") && table.contains('█'), "{table}");
    let csv = env.git_ml(&["log", "--csv"]).success().stdout.clone();
    assert!(
        csv.starts_with("commit,date,source,acc,loss.train\n"),
        "{csv}"
    );

    // With no arguments: merge-base with main vs the working tree.
    env.write("metrics.json", r#"{"acc": 0.95, "loss": {"train": 0.30}}"#);
    let d = env.git_ml(&["diff", "--json"]).success().json();
    assert_eq!(d["new"]["origin"], "worktree");
    assert_eq!(metric(&d, "acc")["new"]["mean"], 0.95);
}

#[test]
fn a_commit_without_records_falls_back_to_its_files_and_says_so() {
    let env = setup();
    let show = env.git_ml(&["show", "--json"]).success().json();
    assert_eq!(show["origin"], "files");
    assert_eq!(show["runs"][0]["metrics"]["loss.train"], 0.5);
    let text = env.git_ml(&["show"]).success().stdout.clone();
    assert!(text.contains("no run records"), "{text}");
    v2(&env);
    let d = env
        .git_ml(&["diff", "main", "exp", "--json"])
        .success()
        .json();
    assert_eq!(d["old"]["origin"], "files");
    assert_eq!(metric(&d, "acc")["old"]["mean"], 0.8);
    let log = env.git_ml(&["log", "--json"]).success().json();
    assert_eq!(log["entries"][0]["origin"], "files");
}

#[test]
fn bad_metric_values_and_files_get_clear_messages() {
    let env = setup();
    // NaN and infinity survive as text; a string metric is kept but not compared.
    env.write(
        "m.yaml",
        "f1: .nan\nrecall: .inf\nname: resnet\nprecision: 0.5\n",
    );
    let rec = env.git_ml(&["record", "--metrics", "m.yaml", "--json"]);
    rec.success();
    assert!(rec.stderr.contains("metric `name`"), "{}", rec.stderr);
    let run = rec.json();
    assert_eq!(run["run"]["metrics"]["f1"], "nan");
    assert_eq!(run["run"]["metrics"]["recall"], "inf");
    let d = env
        .git_ml(&["diff", "HEAD", "HEAD", "--json", "--all"])
        .success()
        .json();
    assert!(metric(&d, "f1")["change"].is_null());
    assert_eq!(metric(&d, "f1")["new"]["text"], "nan");

    // A malformed metrics file: the file is named, nothing is recorded.
    env.write("bad.json", "{\"acc\": 0.9,,}");
    let out = env.git_ml(&["record", "--metrics", "bad.json"]);
    out.code(2);
    assert!(out.stderr.contains("bad.json"), "{}", out.stderr);
    // A missing metrics file given on the command line is an error naming it.
    let out = env.git_ml(&["record", "--metrics", "nope.json"]);
    out.code(2);
    assert!(out.stderr.contains("nope.json"), "{}", out.stderr);
    // A declared one that is missing is a warning.
    std::fs::remove_file(env.path("metrics.json")).unwrap();
    env.commit_all("no metrics file");
    let out = env.git_ml(&["record", "--metric", "acc=1"]);
    out.success();
    assert!(out.stderr.contains("metrics.json"), "{}", out.stderr);
    // A bad --metric.
    env.git_ml(&["record", "--metric", "acc"]).code(2);
}

#[test]
fn a_corrupted_note_line_is_skipped_with_a_warning_and_the_rest_kept() {
    let env = setup();
    env.git_ml(&["record", "--metric", "acc=0.7"]).success();
    let note = env.git(&["notes", "--ref", "refs/notes/gitml", "show", "HEAD"]);
    let broken = format!("{{\"id\": truncated\n{note}");
    env.git(&[
        "notes",
        "--ref",
        "refs/notes/gitml",
        "add",
        "-f",
        "-m",
        &broken,
        "HEAD",
    ]);
    let show = env.git_ml(&["show", "--json"]);
    show.success();
    assert!(show.stderr.contains("line 1"), "{}", show.stderr);
    let v = show.json();
    assert_eq!(v["runs"].as_array().unwrap().len(), 1);
    assert_eq!(v["runs"][0]["metrics"]["acc"], 0.7);
    env.git_ml(&["log"]).success();
    env.git_ml(&["diff", "HEAD", "HEAD"]).success();
}

#[test]
fn a_run_with_uncommitted_inputs_waits_for_the_commit_that_carries_them() {
    let env = setup();
    let v1 = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    env.write("params.yaml", "lr: 0.5\nepochs: 5\n");
    env.write("metrics.json", r#"{"acc": 0.95}"#);
    let out = env.git_ml(&["record", "--json"]);
    out.success();
    let rec = out.json();
    assert!(rec["commit"].is_null(), "{rec}");
    let pending = rec["pending"].as_str().unwrap().to_string();
    let id = rec["run"]["id"].as_str().unwrap().to_string();
    // Not v1's metrics, whatever reads v1.
    let show = env.git_ml(&["show", "--json"]).success().json();
    assert_eq!(show["origin"], "files", "{show}");
    let listed = env
        .git_ml(&["show", "--pending", "--json"])
        .success()
        .json();
    assert_eq!(listed[0]["name"], pending.as_str(), "{listed}");
    // A commit that carries other inputs does not get it ...
    env.write("params.yaml", "lr: 0.7\nepochs: 5\n");
    env.commit_all("lr 0.7");
    let show = env.git_ml(&["show", "--json"]).success().json();
    assert_eq!(show["origin"], "files", "{show}");
    // ... the one that carries exactly them does, once, whichever command reads it first.
    env.write("params.yaml", "lr: 0.5\nepochs: 5\n");
    env.commit_all("lr 0.5");
    let head = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let diff = env
        .git_ml(&["diff", &v1, "HEAD", "--json"])
        .success()
        .json();
    assert_eq!(diff["new"]["origin"], "record", "{diff}");
    let acc = diff["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "acc")
        .unwrap();
    assert_eq!(acc["new"]["mean"], 0.95, "{diff}");
    let note = env.git(&["notes", "--ref", "refs/notes/gitml", "show", &head]);
    assert_eq!(note.matches(&id).count(), 1, "{note}");
    let listed = env
        .git_ml(&["show", "--pending", "--json"])
        .success()
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 0, "{listed}");
    env.git_ml(&["show"]).success();
    let note = env.git(&["notes", "--ref", "refs/notes/gitml", "show", &head]);
    assert_eq!(note.matches(&id).count(), 1, "adopted twice: {note}");

    // Tracked data that differs from its pointer counts as an input too; --allow-dirty keeps the
    // old behaviour, and a dirty run is never the commit's metrics.
    env.write("data/a.csv", "changed\n");
    let rec = env.git_ml(&["record", "--json"]).success().json();
    assert!(rec["commit"].is_null(), "{rec}");
    let rec = env
        .git_ml(&["record", "--allow-dirty", "--metric", "acc=0.1", "--json"])
        .success()
        .json();
    assert_eq!(rec["run"]["dirty"], true);
    let show = env.git_ml(&["show", "--json"]).success().json();
    assert_eq!(show["dirty"].as_array().unwrap().len(), 1, "{show}");
    assert_eq!(show["runs"].as_array().unwrap().len(), 1, "{show}");
    assert_eq!(show["runs"][0]["metrics"]["acc"], 0.95, "{show}");
}

#[test]
fn records_follow_amend_and_copy_across_a_squash_merge() {
    let env = setup();
    env.git_ml(&["record", "--metric", "acc=0.7"]).success();
    env.git(&["commit", "-q", "--amend", "-m", "v1 (amended)"]);
    let show = env.git_ml(&["show", "--json"]).success().json();
    assert_eq!(
        show["origin"], "record",
        "notes.rewriteRef carries records over an amend"
    );

    // A squash merge: same tree, new commit, no record.
    v2(&env);
    env.git_ml(&["record", "--metric", "acc=0.9"]).success();
    env.git(&["checkout", "-q", "main"]);
    env.git(&["merge", "-q", "--squash", "exp"]);
    env.git(&["commit", "-q", "-m", "squashed exp"]);
    assert_eq!(
        env.git_ml(&["show", "--json"]).success().json()["origin"],
        "files"
    );
    env.git_ml(&["record", "--from", "exp"]).success();
    let show = env.git_ml(&["show", "--json"]).success().json();
    assert_eq!(show["runs"][0]["metrics"]["acc"], 0.9);
    // Different trees: refused, and says why.
    env.write("extra.txt", "x");
    env.commit_all("diverge");
    let out = env.git_ml(&["record", "--from", "exp"]);
    out.code(2);
    assert!(out.stderr.contains("differ"), "{}", out.stderr);
}

#[test]
fn a_shallow_clone_gets_a_hint_not_a_wrong_answer() {
    let env = setup();
    v2(&env);
    env.git(&["checkout", "-q", "main"]);
    env.write("metrics.json", r#"{"acc": 0.85}"#);
    env.commit_all("v1.1 on main");
    let clone = TestEnv::bare_repo();
    std::fs::remove_dir_all(&clone.root).unwrap();
    let url = format!("file://{}", env.root.display());
    clone.git_in(
        &clone.base,
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            &url,
            clone.root.to_str().unwrap(),
        ],
    );
    clone.git(&["checkout", "-q", "exp"]);
    let out = clone.git_ml(&["diff"]);
    out.code(2);
    assert!(out.stderr.contains("shallow"), "{}", out.stderr);
    assert!(out.stderr.contains("fetch-depth: 0"), "{}", out.stderr);
}

#[test]
fn two_clones_record_and_push_at_once_and_both_runs_survive() {
    let env = setup();
    let bare = env.base.join("origin.git");
    env.git(&["init", "-q", "--bare", bare.to_str().unwrap()]);
    let store = env.base.join("store");
    std::fs::create_dir_all(&store).unwrap();
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    env.commit_all("remote");
    env.git_ml(&["push"]).success();
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    env.git(&["push", "-q", "-u", "origin", "main"]);

    let clones: Vec<TestEnv> = (0..3).map(|_| env.clone_repo_from(&bare)).collect();
    for (i, c) in clones.iter().enumerate() {
        c.git_ml(&[
            "record",
            "--metric",
            &format!("acc=0.{}", 5 + i),
            "--tag",
            &format!("who={i}"),
        ])
        .success();
    }
    // All push their records at the same moment.
    let children: Vec<_> = clones
        .iter()
        .map(|c| {
            c.command(BIN, &c.root)
                .args(["push"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for ch in children {
        let out = ch.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A fresh clone sees all three runs.
    let reader = env.clone_repo_from(&bare);
    reader.git_ml(&["pull"]).success();
    let show = reader.git_ml(&["show", "--json"]).success().json();
    let mut who: Vec<String> = show["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tags"]["who"].as_str().unwrap().to_string())
        .collect();
    who.sort();
    assert_eq!(who, ["0", "1", "2"]);
    // Nobody force-pushed: the remote's notes history contains every merge.
    let count = reader.git(&["rev-list", "--count", "refs/notes/gitml"]);
    assert!(count.trim().parse::<u32>().unwrap() >= 3, "{count}");
}

#[test]
fn a_run_recorded_in_github_actions_says_so_with_its_url() {
    let env = setup();
    let out = env
        .command(BIN, &env.root)
        .args(["record", "--json"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "acme/churn")
        .env("GITHUB_RUN_ID", "42")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["run"]["source"]["kind"], "ci");
    assert_eq!(
        j["run"]["source"]["url"],
        "https://github.com/acme/churn/actions/runs/42"
    );
}

#[test]
fn a_metrics_only_repository_pushes_and_pulls_its_records_without_a_data_remote() {
    let env = TestEnv::new();
    let origin = env.base.join("origin.git");
    env.git(&["init", "-q", "--bare", origin.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", origin.to_str().unwrap()]);
    env.write("m.json", r#"{"acc": 0.5}"#);
    env.commit_all("v1");
    env.git(&["push", "-q", "origin", "main"]);
    env.git_ml(&["record", "--metrics", "m.json"]).success();
    let r = env.git_ml(&["push"]);
    r.success();
    assert!(r.stderr.contains("run records: pushed"), "{}", r.stderr);
    let clone = env.clone_repo_from(&origin);
    let r = clone.git_ml(&["pull"]);
    r.success();
    let show = clone.git_ml(&["show", "--json"]).success().json();
    assert_eq!(show["origin"], "record", "{show}");
    assert_eq!(show["runs"][0]["metrics"]["acc"], 0.5);
    // With tracked data and no data remote, the records still go, and the data is named.
    env.write("d.bin", bytes(3, 10));
    env.git_ml(&["add", "d.bin"]).success();
    let r = env.git_ml(&["push"]);
    r.code(2);
    assert!(
        r.stderr.contains("1 tracked path was not pushed"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_fresh_clone_is_set_up_by_its_first_git_ml_command() {
    let env = setup();
    let clone = env.clone_repo();
    let get = |key: &str| {
        clone
            .command("git", &clone.root)
            .args(["config", "--local", "--get", key])
            .output()
            .unwrap()
    };
    assert!(
        !get("merge.gitml.driver").status.success(),
        "cloned config?"
    );
    clone.git_ml(&["ls"]).success();
    let driver = get("merge.gitml.driver");
    assert!(
        String::from_utf8_lossy(&driver.stdout).contains("git-ml merge-driver"),
        "{driver:?}"
    );
    assert!(String::from_utf8_lossy(&get("notes.rewriteRef").stdout).contains("refs/notes/gitml"));
    // Idempotent: a second command adds nothing.
    clone.git_ml(&["ls"]).success();
    let all = clone.git(&["config", "--local", "--get-all", "notes.rewriteRef"]);
    assert_eq!(all.lines().count(), 1, "{all}");
}
