//! `git ml import dvc` and `git ml fetch --from-dvc-remote`, against repositories built by the
//! real DVC (pinned in `scripts/test`; it must be on PATH).

use std::path::{Path, PathBuf};

use crate::common::{TestEnv, bytes};

/// Run DVC in `dir`, hermetically (its global and site config under the test's HOME), asserting
/// success; returns stdout.
#[track_caller]
fn dvc_in(env: &TestEnv, dir: &Path, args: &[&str]) -> String {
    let out = env
        .command("dvc", dir)
        .args(args)
        .env("DVC_NO_ANALYTICS", "1")
        .env("DVC_GLOBAL_CONFIG_DIR", env.home.join("dvc-global"))
        .env("DVC_SYSTEM_CONFIG_DIR", env.home.join("dvc-system"))
        .env("DVC_SITE_CACHE_DIR", env.home.join("dvc-site"))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `dvc` ({e}); `bash scripts/test` installs it (pip install dvc)")
        });
    assert!(
        out.status.success(),
        "dvc {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn dvc(env: &TestEnv, args: &[&str]) -> String {
    dvc_in(env, &env.root, args)
}

const DVC_YAML: &str = r#"vars:
  - suffix: txt
stages:
  prepare:
    cmd: mkdir -p features && head -n ${prepare.rows} data/raw.csv > features/rows.csv && ls data/images > features/images.${suffix}
    deps:
      - data/raw.csv
      - data/images
      - prepare.sh
    params:
      - prepare.rows
    outs:
      - features
  train:
    foreach: ${models}
    do:
      cmd: >-
        mkdir -p models metrics &&
        cat features/rows.csv > models/${item}.bin && echo ${train.lr} >> models/${item}.bin &&
        echo "{\"acc\": ${train.acc}, \"size\": \"${item}\"}" > metrics/${item}.json
      deps:
        - features
      params:
        - train
        - other.yaml:
          - seed
      outs:
        - models/${item}.bin
      metrics:
        - metrics/${item}.json
  evaluate:
    cmd: >-
      echo '{"auc": 0.75}' > eval.json &&
      printf 'fpr,tpr\n0,0\n1,1\n' > roc.csv &&
      printf 'actual,predicted\n1,1\n0,1\n' > preds.csv &&
      echo evaluated > report.txt
    deps:
      - models/small.bin
      - tools
    outs:
      - report.txt:
          cache: false
    metrics:
      - eval.json:
          cache: false
    plots:
      - roc.csv:
          x: fpr
          y: tpr
          title: ROC
      - preds.csv:
          cache: false
plots:
  - confusion:
      template: confusion
      x: actual
      y:
        preds.csv: predicted
metrics:
  - eval.json
artifacts:
  classifier:
    path: models/small.bin
    type: model
"#;

/// A DVC project as a team would have it: data added (a file and a directory), a three-stage
/// pipeline (params, metrics, plots, a `foreach`) reproduced and committed, pushed to a local
/// DVC remote. Returns the remote's directory.
fn dvc_project(env: &TestEnv) -> PathBuf {
    dvc(env, &["init", "-q"]);
    dvc(env, &["config", "core.analytics", "false"]);
    env.write(
        "data/raw.csv",
        (0..200)
            .map(|i| format!("{i},{}\n", i * 7 % 13))
            .collect::<String>(),
    );
    env.write("data/images/a.png", bytes(1, 3000));
    env.write("data/images/nested/b.png", bytes(2, 5000));
    env.write("data/images/notes.txt", "windows\r\nline endings\r\n");
    dvc(env, &["add", "-q", "data/raw.csv", "data/images"]);
    env.write(
        "params.yaml",
        "prepare:\n  rows: 50\ntrain:\n  lr: 0.001\n  acc: 0.8\nmodels: [small, big]\n",
    );
    env.write("other.yaml", "seed: 7\nunused: 1\n");
    // Code in git that stages depend on: a file and a directory (DVC names it by a `.dir` md5).
    env.write("prepare.sh", "# prepares\n");
    env.write("tools/a.py", "print('a')\n");
    env.write("tools/sub/b.py", "print('b')\r\n");
    env.write("dvc.yaml", DVC_YAML);
    dvc(env, &["repro", "-q"]);
    let store = env.base.join("dvc-store");
    std::fs::create_dir_all(&store).unwrap();
    // DVC writes it relative to `.dvc/` (`../../dvc-store`); git-ml reads it from the root.
    dvc(env, &["remote", "add", "-d", "store", "../dvc-store"]);
    dvc(env, &["push", "-q"]);
    env.commit_all("DVC project");
    store
}

/// Every file below the work tree that is data (not git's, not DVC's or git-ml's metadata).
fn data_files(env: &TestEnv) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for rel in [
        "data/raw.csv",
        "data/images/a.png",
        "data/images/nested/b.png",
        "data/images/notes.txt",
        "features/rows.csv",
        "features/images.txt",
        "models/small.bin",
        "models/big.bin",
        "metrics/small.json",
        "metrics/big.json",
        "eval.json",
        "roc.csv",
    ] {
        out.push((rel.to_string(), env.read(rel)));
    }
    out
}

fn stage_outcomes(run: &serde_json::Value) -> Vec<(String, String)> {
    run["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_string(),
                s["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn import_converts_in_place_and_reruns_nothing() {
    let env = TestEnv::bare_repo();
    dvc_project(&env);
    let before = data_files(&env);
    let r = env.git_ml(&["import", "dvc", "--json"]);
    r.success();
    let report = r.json();

    // Data: pointers for the added file and directory and every cached stage output.
    for p in [
        "data/raw.csv",
        "data/images",
        "features",
        "models/small.bin",
        "models/big.bin",
    ] {
        assert!(env.exists(&format!("{p}.gitml")), "no pointer for {p}");
    }
    let images = report["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == "data/images")
        .unwrap();
    assert_eq!(images["type"], "dir");
    assert_eq!(images["files"], 3);
    assert_eq!(images["source"], "dvc-cache");
    assert!(images["md5"].as_str().unwrap().ends_with(".dir"));
    // Cached metrics become plain files in git, as git-ml keeps results.
    let metrics = report["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == "metrics/small.json")
        .unwrap();
    assert!(metrics["pointer"].is_null());
    // Content entered the cache by hard link, not by copy.
    assert!(
        report["link_modes"]["hardlink"].as_u64().unwrap() >= 8,
        "{}",
        report["link_modes"]
    );

    // DVC's files are gone; its cache stays, out of git's sight.
    for f in [
        "data/raw.csv.dvc",
        "data/images.dvc",
        "dvc.yaml",
        "dvc.lock",
        ".dvc/config",
    ] {
        assert!(!env.exists(f), "{f} should have been removed");
    }
    assert!(env.path(".dvc/cache").is_dir());
    assert_eq!(data_files(&env), before, "the import changed file contents");

    // Stages, lock, metrics, params, plots, models and the remote.
    let toml: toml::Table =
        toml::from_str(&String::from_utf8(env.read("gitml.toml")).unwrap()).unwrap();
    let stages = toml["stages"].as_table().unwrap();
    let names: Vec<&str> = stages.keys().map(String::as_str).collect();
    assert_eq!(names, ["evaluate", "prepare", "train@big", "train@small"]);
    assert_eq!(
        stages["prepare"]["cmd"].as_str().unwrap(),
        "mkdir -p features && head -n 50 data/raw.csv > features/rows.csv && ls data/images > features/images.txt"
    );
    let train = &stages["train@small"];
    assert_eq!(
        train["outs"].as_array().unwrap()[0].as_str(),
        Some("models/small.bin")
    );
    assert_eq!(
        train["metrics"].as_array().unwrap()[0].as_str(),
        Some("metrics/small.json")
    );
    let params: Vec<&str> = train["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(params, ["train", "other.yaml:seed"]);
    assert_eq!(
        toml["remotes"]["store"]["url"].as_str(),
        Some("../dvc-store")
    );
    assert_eq!(toml["core"]["remote"].as_str(), Some("store"));
    assert_eq!(
        toml["models"]["classifier"]["path"].as_str(),
        Some("models/small.bin")
    );
    let plots = toml["plots"].as_table().unwrap();
    assert_eq!(plots["roc.csv"]["x"].as_str(), Some("fpr"));
    assert_eq!(plots["roc.csv"]["title"].as_str(), Some("ROC"));
    assert_eq!(plots["confusion"]["kind"].as_str(), Some("confusion"));
    assert_eq!(plots["confusion"]["path"].as_str(), Some("preds.csv"));
    assert_eq!(plots["confusion"]["y"].as_str(), Some("predicted"));
    let metrics_files: Vec<&str> = toml["metrics"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(metrics_files.contains(&"metrics/small.json") && metrics_files.contains(&"eval.json"));
    assert_eq!(
        toml["params"]["files"].as_array().unwrap()[0].as_str(),
        Some("params.yaml")
    );
    for s in report["stages"].as_array().unwrap() {
        assert_eq!(s["state"], "up-to-date", "{s}");
    }
    // What did not convert is listed, with where it was.
    let not: Vec<String> = report["not_converted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("{} {} {}", n["origin"], n["what"], n["why"]))
        .collect();
    assert!(
        not.iter().any(|n| n.contains("report.txt")
            && n.contains("cache: false")
            && n.contains("dvc.yaml:")),
        "{not:?}"
    );

    // The proof: git-ml agrees with DVC that nothing is stale.
    env.git_ml(&["status"]).success();
    let run = env.git_ml(&["run", "--json", "--no-record"]);
    run.success();
    for (stage, outcome) in stage_outcomes(&run.json()) {
        assert_eq!(outcome, "skipped", "stage {stage} ran after the import");
    }
    assert_eq!(data_files(&env), before);
    // The change is one ordinary commit; git status is clean after it.
    env.commit_all("Move from DVC to git-ml");
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    env.git_ml(&["verify"]).success();
    env.assert_cache_sound();
}

#[test]
fn history_keeps_dvc_era_metrics() {
    let env = TestEnv::bare_repo();
    dvc_project(&env);
    // A second DVC-era commit with other metrics; both versions stay in the DVC cache.
    env.write(
        "params.yaml",
        "prepare:\n  rows: 50\ntrain:\n  lr: 0.001\n  acc: 0.9\nmodels: [small, big]\n",
    );
    dvc(&env, &["repro", "-q"]);
    env.commit_all("better model (DVC)");
    env.git_ml(&["import", "dvc"]).success();
    env.commit_all("Move from DVC to git-ml");

    // Across the two DVC-era commits: the metrics DVC cached are read from its cache.
    let d = env.git_ml(&["diff", "HEAD~2", "HEAD~1", "--json"]);
    d.success();
    let d = d.json();
    let acc = d["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "acc")
        .unwrap_or_else(|| panic!("no acc in {d}"));
    assert_eq!(acc["old"]["mean"].as_f64(), Some(0.8));
    assert_eq!(acc["new"]["mean"].as_f64(), Some(0.9));
    // Across the import commit: the same metrics on both sides, from DVC's cache and from git.
    let d = env.git_ml(&["diff", "HEAD~1", "HEAD", "--json"]);
    d.success();
    let d = d.json();
    let acc = d["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "acc")
        .unwrap();
    assert_eq!(acc["old"]["mean"].as_f64(), Some(0.9), "{d}");
    assert_eq!(acc["new"]["mean"].as_f64(), Some(0.9), "{d}");
    let auc = d["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "auc")
        .unwrap();
    assert_eq!(auc["old"]["mean"].as_f64(), Some(0.75));
    let report = env.git_ml(&["report", "HEAD", "--base", "HEAD~2", "--format", "json"]);
    report.success();
    let report = report.json();
    let acc = report["diff"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "acc")
        .unwrap_or_else(|| panic!("no acc in {report}"));
    assert_eq!(acc["old"]["mean"].as_f64(), Some(0.8));
    let log = env.git_ml(&["log", "--json"]);
    log.success();
    assert!(
        log.stdout.contains("0.8") && log.stdout.contains("0.9"),
        "{}",
        log.stdout
    );
}

#[test]
fn fresh_clones_read_the_dvc_remote_or_the_converted_one() {
    let env = TestEnv::bare_repo();
    let store = dvc_project(&env);
    let before = data_files(&env);
    env.git_ml(&["import", "dvc"]).success();
    env.commit_all("Move from DVC to git-ml");

    // Nothing in git-ml's layout has been pushed: the DVC remote is all there is.
    assert!(TestEnv::objects_under(&store).is_empty());
    // The clones live elsewhere: each machine says where the shared store is mounted.
    let local = format!("[remotes.store]\nurl = \"{}\"\n", store.display());
    let a = env.clone_repo();
    a.git_ml(&["init"]).success();
    a.write(".git/gitml/config.toml", &local);
    let f = a.git_ml(&["fetch", "--from-dvc-remote", "store", "--json"]);
    f.success();
    assert!(
        f.json()["transferred"].as_u64().unwrap() >= 5,
        "{}",
        f.stdout
    );
    a.git_ml(&["checkout"]).success();
    assert_eq!(data_files(&a), before);
    a.git_ml(&["status"]).success();
    a.assert_cache_sound();
    // A second fetch finds everything there.
    let again = a.git_ml(&["fetch", "--from-dvc-remote", "store", "--json"]);
    assert_eq!(again.json()["transferred"], 0);

    // After `git ml push` to the converted remote (same directory, git-ml's layout beside
    // DVC's), a clone pulls the ordinary way.
    env.git_ml(&["push"]).success();
    assert!(!TestEnv::objects_under(&store).is_empty());
    assert!(
        store.join("files/md5").is_dir(),
        "DVC's objects are untouched"
    );
    let b = env.clone_repo();
    b.git_ml(&["init"]).success();
    b.write(".git/gitml/config.toml", &local);
    b.git_ml(&["pull"]).success();
    assert_eq!(data_files(&b), before);
}

#[test]
fn a_corrupt_dvc_object_is_detected_and_named() {
    let env = TestEnv::bare_repo();
    dvc_project(&env);
    let md5 = md5_hex(&env.read("data/raw.csv"));
    let obj = obj_path(&env, &md5);
    std::fs::set_permissions(&obj, rw()).unwrap();
    std::fs::write(&obj, b"bit rot").unwrap();

    // The work tree still has the right bytes: imported from there, with a warning.
    let ok = env.git_ml(&["import", "dvc", "--keep-dvc"]);
    ok.success();
    assert!(
        ok.stderr.contains(&format!("{}/{}", &md5[..2], &md5[2..]))
            && ok.stderr.contains("corrupt"),
        "{}",
        ok.stderr
    );
    env.git_ml(&["status"]).success();

    // Without an intact copy anywhere, the import refuses, naming the object and the file.
    let env = TestEnv::bare_repo();
    dvc_project(&env);
    std::fs::set_permissions(obj_path(&env, &md5), rw()).unwrap();
    std::fs::write(obj_path(&env, &md5), b"bit rot").unwrap();
    std::fs::remove_file(env.path("data/raw.csv")).unwrap();
    let bad = env.git_ml(&["import", "dvc"]);
    bad.code(2);
    assert!(bad.stderr.contains("data/raw.csv.dvc:"), "{}", bad.stderr);
    assert!(
        bad.stderr.contains(&md5) && bad.stderr.contains("corrupt"),
        "{}",
        bad.stderr
    );
    // Nothing was written.
    assert!(!env.exists("data/raw.csv.gitml") && !env.exists("gitml.toml"));
    assert!(env.exists("dvc.yaml"));
}

fn obj_path(env: &TestEnv, md5: &str) -> PathBuf {
    env.path(&format!(".dvc/cache/files/md5/{}/{}", &md5[..2], &md5[2..]))
}

fn rw() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o644)
}

fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn dry_run_plans_and_writes_nothing() {
    let env = TestEnv::bare_repo();
    dvc_project(&env);
    let status = env.git(&["status", "--porcelain", "--ignored"]);
    let r = env.git_ml(&["import", "dvc", "--dry-run"]);
    r.success();
    assert!(
        r.stdout.contains("would import `data/images` (3 files"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("stage `train@small`"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("remote `store` -> `../dvc-store` (default)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("not converted: dvc.yaml:"),
        "{}",
        r.stdout
    );
    assert_eq!(env.git(&["status", "--porcelain", "--ignored"]), status);
    assert!(!env.cache_dir().exists() || env.cache_objects().is_empty());
}

#[test]
fn keep_dvc_leaves_both_tools_working() {
    let env = TestEnv::bare_repo();
    dvc_project(&env);
    env.git_ml(&["import", "dvc", "--keep-dvc"]).success();
    assert!(env.exists("dvc.yaml") && env.exists("data/images.dvc") && env.exists(".dvc/config"));
    env.git_ml(&["status"]).success();
    let s = dvc(&env, &["status"]);
    assert!(s.contains("up to date"), "{s}");
    env.commit_all("try git-ml beside DVC");
    let s = dvc(&env, &["status"]);
    assert!(s.contains("up to date"), "{s}");
}

#[test]
fn a_stage_dvc_finds_stale_is_the_one_git_ml_runs() {
    let env = TestEnv::bare_repo();
    dvc_project(&env);
    // An output nobody pulled (neither in the work tree nor in the DVC cache).
    let big = md5_hex(&env.read("models/big.bin"));
    std::fs::remove_file(env.path("models/big.bin")).unwrap();
    std::fs::remove_file(obj_path(&env, &big)).unwrap();
    // Code changed in a directory a stage depends on.
    env.write("tools/sub/b.py", "print('changed')\n");
    // Changed after `dvc repro`: DVC would rerun `prepare` and what follows.
    env.write(
        "params.yaml",
        "prepare:\n  rows: 60\ntrain:\n  lr: 0.001\n  acc: 0.8\nmodels: [small, big]\n",
    );
    let r = env.git_ml(&["import", "dvc", "--json"]);
    r.success();
    let report = r.json();
    let state = |name: &str| {
        report["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state("prepare"), "stale");
    assert_eq!(state("train@small"), "up-to-date");
    assert_eq!(state("train@big"), "stale");
    assert_eq!(state("evaluate"), "stale");
    assert!(
        report["warnings"].to_string().contains("models/big.bin"),
        "{}",
        report["warnings"]
    );
    assert!(!env.exists("models/big.bin.gitml"));
    let run = env.git_ml(&["run", "--json", "--no-record"]);
    run.success();
    let outcomes = stage_outcomes(&run.json());
    let of = |n: &str| outcomes.iter().find(|(s, _)| s == n).unwrap().1.clone();
    assert_eq!(of("prepare"), "ran");
    assert_eq!(of("train@big"), "ran");
    assert!(env.exists("models/big.bin.gitml"));
    assert_eq!(
        env.read("features/rows.csv")
            .iter()
            .filter(|b| **b == b'\n')
            .count(),
        60
    );
}

#[test]
fn dvc2_entries_are_verified_by_their_dos2unix_md5() {
    let env = TestEnv::bare_repo();
    dvc(&env, &["init", "-q"]);
    // DVC 2 named text by the md5 of its LF form and kept objects in the flat layout.
    let crlf = b"a,b\r\n1,2\r\n".to_vec();
    let named = md5_hex(b"a,b\n1,2\n");
    env.write("table.csv", &crlf);
    env.write(
        &format!(".dvc/cache/{}/{}", &named[..2], &named[2..]),
        &crlf,
    );
    env.write(
        "table.csv.dvc",
        format!(
            "outs:\n- md5: {named}\n  size: {}\n  path: table.csv\n",
            crlf.len()
        ),
    );
    env.write(".gitignore", "/table.csv\n");
    env.commit_all("DVC 2 era");
    let r = env.git_ml(&["import", "dvc", "--json"]);
    r.success();
    assert_eq!(r.json()["data"][0]["source"], "dvc-cache");
    assert_eq!(env.read("table.csv"), crlf);
    env.git_ml(&["status"]).success();
    let map = String::from_utf8(env.read("gitml-dvc.toml")).unwrap();
    assert!(map.contains(&named) && map.contains("dvc2"), "{map}");
}

#[test]
fn hostile_dvc_files_are_refused_with_file_and_line() {
    let env = TestEnv::bare_repo();
    dvc(&env, &["init", "-q"]);
    let m = md5_hex(b"x");
    env.write(
        "sub/evil.dvc",
        format!("outs:\n- md5: {m}\n  size: 1\n  hash: md5\n  path: ../../outside.txt\n"),
    );
    let r = env.git_ml(&["import", "dvc"]);
    r.code(2);
    assert!(
        r.stderr.contains("sub/evil.dvc:2:") && r.stderr.contains("leaves the repository"),
        "{}",
        r.stderr
    );
    std::fs::remove_file(env.path("sub/evil.dvc")).unwrap();

    // A listing that climbs out of its directory.
    let listing = format!(r#"[{{"md5": "{m}", "relpath": "../../../etc/cron.d/x"}}]"#);
    let lm = md5_hex(listing.as_bytes());
    env.write(
        &format!(".dvc/cache/files/md5/{}/{}.dir", &lm[..2], &lm[2..]),
        &listing,
    );
    env.write(
        "d.dvc",
        format!("outs:\n- md5: {lm}.dir\n  nfiles: 1\n  hash: md5\n  path: d\n"),
    );
    let r = env.git_ml(&["import", "dvc"]);
    r.code(2);
    assert!(
        r.stderr.contains("unsafe path `../../../etc/cron.d/x`"),
        "{}",
        r.stderr
    );
    std::fs::remove_file(env.path("d.dvc")).unwrap();

    // A tracked directory that is a symlink out of the repository is never read through (what
    // is read goes into the cache, and from there to remotes).
    let secret = b"the neighbour's secret\n";
    std::fs::create_dir_all(env.base.join("outside")).unwrap();
    std::fs::write(env.base.join("outside/secret"), secret).unwrap();
    std::os::unix::fs::symlink("../outside", env.path("leak")).unwrap();
    let listing = format!(r#"[{{"md5": "{}", "relpath": "secret"}}]"#, md5_hex(secret));
    env.write(
        "leak.dvc",
        format!(
            "outs:\n- md5: {}.dir\n  nfiles: 1\n  hash: md5\n  path: leak\n",
            md5_hex(listing.as_bytes())
        ),
    );
    let r = env.git_ml(&["import", "dvc"]);
    r.code(2);
    assert!(r.stderr.contains("leak.dvc:2:"), "{}", r.stderr);
    assert!(
        !env.cache_objects()
            .iter()
            .any(|o| std::fs::read(o).unwrap() == secret)
    );
    std::fs::remove_file(env.path("leak.dvc")).unwrap();
    std::fs::remove_file(env.path("leak")).unwrap();

    // A stage whose working directory leaves the repository, and malformed YAML.
    env.write(
        "dvc.yaml",
        "stages:\n  s:\n    cmd: touch x\n    wdir: ../..\n    outs: [x]\n",
    );
    let r = env.git_ml(&["import", "dvc"]);
    r.code(2);
    assert!(
        r.stderr.contains("dvc.yaml:2:") && r.stderr.contains("wdir"),
        "{}",
        r.stderr
    );
    env.write("dvc.yaml", "stages:\n  s:\n    cmd: [unclosed\n");
    let r = env.git_ml(&["import", "dvc"]);
    r.code(2);
    assert!(r.stderr.contains("dvc.yaml:"), "{}", r.stderr);
    assert!(!env.exists("gitml.toml"), "nothing may be written");
    assert!(!env.base.join("outside.txt").exists());
}

#[test]
fn credentials_stay_where_they_were() {
    let env = TestEnv::bare_repo();
    dvc(&env, &["init", "-q"]);
    dvc(
        &env,
        &["remote", "add", "-d", "s3store", "s3://bucket/path"],
    );
    dvc(
        &env,
        &[
            "remote",
            "modify",
            "s3store",
            "endpointurl",
            "http://127.0.0.1:9",
        ],
    );
    dvc(
        &env,
        &["remote", "modify", "s3store", "region", "eu-west-1"],
    );
    dvc(
        &env,
        &[
            "remote",
            "modify",
            "s3store",
            "access_key_id",
            "AKIAEXAMPLEKEY",
        ],
    );
    dvc(
        &env,
        &[
            "remote",
            "modify",
            "--local",
            "s3store",
            "secret_access_key",
            "s3cr3t-value-123",
        ],
    );
    dvc(&env, &["remote", "add", "gcs", "gs://b/p"]);
    dvc(&env, &["remote", "add", "az", "azure://container/p"]);
    dvc(&env, &["remote", "add", "web", "https://example.com/dvc"]);
    dvc(&env, &["remote", "add", "box", "ssh://host/path"]);
    env.commit_all("remotes");
    let r = env.git_ml(&["import", "dvc", "--json"]);
    r.success();
    let text = String::from_utf8(env.read("gitml.toml")).unwrap();
    assert!(
        !text.contains("AKIAEXAMPLEKEY") && !text.contains("s3cr3t"),
        "{text}"
    );
    let toml: toml::Table = toml::from_str(&text).unwrap();
    let s3 = &toml["remotes"]["s3store"];
    assert_eq!(s3["url"].as_str(), Some("s3://bucket/path"));
    assert_eq!(s3["endpoint"].as_str(), Some("http://127.0.0.1:9"));
    assert_eq!(s3["region"].as_str(), Some("eu-west-1"));
    assert_eq!(toml["remotes"]["gcs"]["url"].as_str(), Some("gs://b/p"));
    assert_eq!(
        toml["remotes"]["az"]["url"].as_str(),
        Some("az://container/p")
    );
    assert_eq!(
        toml["remotes"]["web"]["url"].as_str(),
        Some("https://example.com/dvc")
    );
    assert!(toml["remotes"].get("box").is_none());
    let report = r.json();
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("access_key_id") && warnings.contains(".git/gitml/config.toml"),
        "{warnings}"
    );
    assert!(!r.stdout.contains("s3cr3t") && !r.stderr.contains("s3cr3t"));
    assert!(report["not_converted"].to_string().contains("ssh://"));
    // config.local (the secret) is not DVC's committed config: it stays.
    assert!(env.exists(".dvc/config.local"));
}

#[test]
fn wdir_matrix_list_commands_frozen_and_always_changed() {
    let env = TestEnv::bare_repo();
    dvc(&env, &["init", "-q"]);
    env.write("sub/params.yaml", "n: 3\n");
    env.write("sub/input.txt", "a\nb\nc\nd\n");
    env.write(
        "dvc.yaml",
        r#"stages:
  head:
    wdir: sub
    cmd:
      - mkdir -p out
      - head -n 3 input.txt > out/head.txt
      - "echo '{\"rows\": 3}' > m.json"
    deps: [input.txt]
    params: [n]
    outs: [out]
    metrics: [m.json]
  grid:
    matrix:
      x: [1, 2]
      y: [a, b]
    cmd: echo ${item.x}${item.y} > grid-${item.x}-${item.y}.txt
    outs: ["grid-${item.x}-${item.y}.txt"]
  stamp:
    cmd: date >> stamp.txt
    always_changed: true
    outs:
      - stamp.txt:
          persist: true
  old:
    cmd: echo old > old.txt
    outs: [old.txt]
"#,
    );
    dvc(&env, &["repro", "-q"]);
    dvc(&env, &["freeze", "old"]);
    env.commit_all("DVC");
    let r = env.git_ml(&["import", "dvc", "--json"]);
    r.success();
    let text = String::from_utf8(env.read("gitml.toml")).unwrap();
    let toml: toml::Table = toml::from_str(&text).unwrap();
    let stages = toml["stages"].as_table().unwrap();
    // wdir: paths become repository-relative, the command still runs in `sub`.
    let head = &stages["head"];
    assert_eq!(head["wdir"].as_str(), Some("sub"));
    assert_eq!(
        head["deps"].as_array().unwrap()[0].as_str(),
        Some("sub/input.txt")
    );
    assert_eq!(
        head["outs"].as_array().unwrap()[0].as_str(),
        Some("sub/out")
    );
    // The only params file becomes the default one, so the key needs no file name.
    assert_eq!(
        toml["params"]["files"].as_array().unwrap()[0].as_str(),
        Some("sub/params.yaml")
    );
    assert_eq!(head["params"].as_array().unwrap()[0].as_str(), Some("n"));
    assert_eq!(head["cmd"].as_array().unwrap().len(), 3);
    for n in ["grid@1-a", "grid@1-b", "grid@2-a", "grid@2-b"] {
        assert!(stages.contains_key(n), "{n} missing: {text}");
    }
    assert_eq!(stages["stamp"]["always_run"].as_bool(), Some(true));
    assert_eq!(stages["stamp"]["persist"].as_bool(), Some(true));
    // Frozen: kept as a comment, its output tracked as data.
    assert!(!stages.contains_key("old"));
    assert!(text.contains("# [stages.old]"), "{text}");
    assert!(env.exists("old.txt.gitml"));
    let report = r.json();
    let state = |n: &str| {
        report["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state("head"), "up-to-date");
    assert_eq!(state("stamp"), "always");
    assert_eq!(state("old"), "frozen");
    let run = env.git_ml(&["run", "--json", "--no-record"]);
    run.success();
    for (stage, outcome) in stage_outcomes(&run.json()) {
        let expected = if stage == "stamp" { "ran" } else { "skipped" };
        assert_eq!(outcome, expected, "stage {stage}");
    }
    // The DVC-era value of a metric DVC cached, in a stage with a `wdir`.
    env.commit_all("git-ml");
    let d = env
        .git_ml(&["diff", "HEAD~1", "HEAD", "--json"])
        .success()
        .json();
    let rows = d["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "rows");
    assert_eq!(
        rows.unwrap_or_else(|| panic!("{d}"))["old"]["mean"].as_f64(),
        Some(3.0),
        "{d}"
    );
}

#[test]
fn fetch_from_a_dvc_remote_on_s3_with_keys_left_in_dvc_config_local() {
    let env = TestEnv::bare_repo();
    let store = dvc_project(&env);
    let before = data_files(&env);
    env.git_ml(&["import", "dvc"]).success();
    env.commit_all("Move from DVC to git-ml");
    // The DVC remote, as `dvc push` would have left it in a bucket (copied through the filer).
    let server = crate::seaweed::Seaweed::shared();
    let bucket = server.bucket("dvc-remote");
    let mut stack = vec![store.clone()];
    let mut uploaded = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(&store)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                server.overwrite(&bucket, &format!("dvc/{rel}"), &std::fs::read(&p).unwrap());
                uploaded += 1;
            }
        }
    }
    assert!(uploaded > 5);
    let a = env.clone_repo();
    a.git_ml(&["init"]).success();
    a.write(
        ".git/gitml/config.toml",
        format!(
            "[remotes.store]\nurl = \"s3://{bucket}/dvc\"\nendpoint = \"{}\"\n",
            server.endpoint()
        ),
    );
    // Credentials where DVC keeps them; git-ml reads them there for this command only.
    a.write(
        ".dvc/config.local",
        format!(
            "['remote \"store\"']\n    access_key_id = {}\n    secret_access_key = {}\n",
            crate::seaweed::ACCESS_KEY,
            crate::seaweed::SECRET_KEY
        ),
    );
    let f = a.git_ml(&["fetch", "--from-dvc-remote", "store", "--json"]);
    f.success();
    assert!(!f.stdout.contains(crate::seaweed::SECRET_KEY));
    a.git_ml(&["checkout"]).success();
    assert_eq!(data_files(&a), before);
    a.assert_cache_sound();
    // An object damaged on the DVC remote is refused, by its md5, and named.
    let md5 = md5_hex(&before.iter().find(|(p, _)| p == "data/raw.csv").unwrap().1);
    server.overwrite(
        &bucket,
        &format!("dvc/files/md5/{}/{}", &md5[..2], &md5[2..]),
        b"bit rot",
    );
    let b = env.clone_repo();
    b.git_ml(&["init"]).success();
    b.write(
        ".git/gitml/config.toml",
        String::from_utf8(a.read(".git/gitml/config.toml")).unwrap(),
    );
    b.write(
        ".dvc/config.local",
        String::from_utf8(a.read(".dvc/config.local")).unwrap(),
    );
    let bad = b.git_ml(&["fetch", "--from-dvc-remote", "store", "data/raw.csv"]);
    bad.code(2);
    assert!(
        bad.stderr.contains("corrupted") && bad.stderr.contains("data/raw.csv"),
        "{}",
        bad.stderr
    );
    assert!(b.cache_objects().is_empty());
}

#[test]
fn dvc_symlink_checkouts_become_real_files() {
    let env = TestEnv::bare_repo();
    dvc(&env, &["init", "-q"]);
    dvc(&env, &["config", "cache.type", "symlink"]);
    env.write("big/a.bin", bytes(5, 10_000));
    env.write("big/b/c.bin", bytes(6, 20_000));
    env.write("one.csv", "x,y\n1,2\n");
    dvc(&env, &["add", "-q", "big", "one.csv"]);
    assert!(
        std::fs::symlink_metadata(env.path("one.csv"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    env.commit_all("DVC with symlinks");
    env.git_ml(&["import", "dvc"]).success();
    for p in ["big/a.bin", "big/b/c.bin", "one.csv"] {
        let m = std::fs::symlink_metadata(env.path(p)).unwrap();
        assert!(m.is_file(), "{p} is still a link");
    }
    assert_eq!(env.read("big/b/c.bin"), bytes(6, 20_000));
    assert_eq!(env.read("one.csv"), b"x,y\n1,2\n");
    env.git_ml(&["status"]).success();
}

#[test]
fn dvc_hardlink_checkouts_stay_and_are_known_to_status() {
    let env = TestEnv::bare_repo();
    dvc(&env, &["init", "-q"]);
    dvc(&env, &["config", "cache.type", "hardlink"]);
    env.write("d/a.bin", bytes(7, 10_000));
    env.write("d/b.bin", bytes(8, 10_000));
    dvc(&env, &["add", "-q", "d"]);
    env.commit_all("DVC with hard links");
    let r = env.git_ml(&["import", "dvc", "--json"]);
    r.success();
    assert_eq!(r.json()["link_modes"]["hardlink"], 2);
    env.git_ml(&["status"]).success();
    // The work-tree files are the very inodes verified and linked: nothing was copied.
    use std::os::unix::fs::MetadataExt;
    let w = std::fs::metadata(env.path("d/a.bin")).unwrap();
    assert!(
        w.nlink() >= 3,
        "work tree, DVC cache and git-ml cache share the inode"
    );
    assert_eq!(env.read("d/a.bin"), bytes(7, 10_000));
}
