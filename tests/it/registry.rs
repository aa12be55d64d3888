//! The model registry: GTO-format tags on real repositories.

use std::process::Stdio;

use crate::common::{BIN, TestEnv, bytes};

fn setup() -> TestEnv {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(
        "\n[metrics]\nfiles = [\"metrics.json\"]\n\n[models.churn]\npath = \"model.bin\"\n",
    );
    env.write("gitml.toml", toml);
    env.write("metrics.json", r#"{"auc": 0.81}"#);
    env.write("model.bin", bytes(1, 4096));
    env.git_ml(&["add", "model.bin"]).success();
    env.commit_all("model v1");
    env
}

fn new_version(env: &TestEnv, seed: u64, auc: f64) {
    env.write("metrics.json", format!("{{\"auc\": {auc}}}"));
    env.write("model.bin", bytes(seed, 4096));
    env.git_ml(&["add", "model.bin"]).success();
    env.commit_all(&format!("model {seed}"));
}

#[test]
fn register_promote_deprecate_show_history_and_get() {
    let env = setup();
    let r = env
        .git_ml(&["model", "register", "churn", "--json"])
        .success()
        .json();
    assert_eq!(r["tag"], "churn@v0.1.0");
    assert_eq!(r["lineage"]["metrics"]["auc"], 0.81);
    assert!(
        r["lineage"]["model"]["oid"]
            .as_str()
            .unwrap()
            .starts_with("blake3:")
    );
    // The lineage is in the annotated tag's message.
    let msg = env.git(&["tag", "-l", "--format=%(contents)", "churn@v0.1.0"]);
    assert!(
        msg.contains("gitml-lineage:") && msg.contains("\"auc\":0.81"),
        "{msg}"
    );
    // The same commit cannot be registered twice.
    env.git_ml(&["model", "register", "churn"]).code(2);

    new_version(&env, 2, 0.85);
    env.git_ml(&["model", "register", "churn", "--bump", "minor"])
        .success();
    env.git_ml(&["model", "promote", "churn@v0.1.0", "production"])
        .success();
    env.git_ml(&["model", "promote", "churn", "staging"])
        .success();
    let show = env.git_ml(&["model", "show", "--json"]).success().json();
    assert_eq!(show[0]["latest"], "v0.2.0");
    assert_eq!(show[0]["stages"]["production"], "v0.1.0");
    assert_eq!(show[0]["stages"]["staging"], "v0.2.0");
    assert!(
        env.git(&["tag", "-l", "churn#production#1"])
            .contains("churn#production#1")
    );

    env.git_ml(&["model", "deprecate", "churn@v0.1.0", "production"])
        .success();
    let show = env
        .git_ml(&["model", "show", "churn", "--json"])
        .success()
        .json();
    assert!(show[0]["stages"].get("production").is_none(), "{show}");
    let hist = env
        .git_ml(&["model", "history", "churn", "--json"])
        .success()
        .json();
    let tags: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["tag"].as_str().unwrap())
        .collect();
    assert!(tags.contains(&"churn#production!#3"), "{tags:?}");

    // `get` fetches the artifact of a stage by hash.
    let out = env.base.join("out");
    env.git_ml(&["model", "get", "churn#staging", "-o", out.to_str().unwrap()])
        .success();
    assert_eq!(
        std::fs::read(out.join("model.bin")).unwrap(),
        bytes(2, 4096)
    );
    env.git_ml(&["model", "get", "churn@v0.1.0", "-o", out.to_str().unwrap()])
        .success();
    assert_eq!(
        std::fs::read(out.join("model.bin")).unwrap(),
        bytes(1, 4096)
    );
}

#[test]
fn the_registry_policy_refuses_and_says_why() {
    let env = setup();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(
        "\n[registry]\nstages = [\"staging\", \"production\"]\npromote_from = \"main\"\n",
    );
    env.write("gitml.toml", toml);
    env.commit_all("policy");
    env.git_ml(&["model", "register", "churn"]).success();
    let out = env.git_ml(&["model", "promote", "churn", "production"]);
    out.code(2);
    assert!(
        out.stderr.contains("promote it to `staging` first"),
        "{}",
        out.stderr
    );
    env.git_ml(&["model", "promote", "churn", "staging"])
        .success();
    env.git_ml(&["model", "promote", "churn", "production"])
        .success();
    let out = env.git_ml(&["model", "promote", "churn", "qa"]);
    out.code(2);
    assert!(
        out.stderr.contains("not one of the stages"),
        "{}",
        out.stderr
    );
    // A version on a branch that is not `main`.
    env.git(&["checkout", "-q", "-b", "experiment"]);
    new_version(&env, 9, 0.9);
    env.git_ml(&["model", "register", "churn", "--version", "v9.0.0"])
        .success();
    let out = env.git_ml(&["model", "promote", "churn@v9.0.0", "staging"]);
    out.code(2);
    assert!(out.stderr.contains("not on `main`"), "{}", out.stderr);
}

#[test]
fn two_promotions_at_once_get_distinct_numbers() {
    let env = setup();
    env.git_ml(&["model", "register", "churn"]).success();
    let spawn = |stage: &str| {
        env.command(BIN, &env.root)
            .args(["model", "promote", "churn", stage])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = ["dev", "qa", "staging", "production"]
        .iter()
        .map(|s| spawn(s))
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tags = env.git(&["tag", "-l", "churn#*"]);
    let mut numbers: Vec<u64> = tags
        .lines()
        .map(|t| t.rsplit('#').next().unwrap().parse().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, [1, 2, 3, 4], "{tags}");
}

#[test]
fn registry_tags_travel_with_push_and_pull() {
    let env = setup();
    let bare = env.base.join("origin.git");
    env.git(&["init", "-q", "--bare", bare.to_str().unwrap()]);
    let store = env.base.join("store");
    std::fs::create_dir_all(&store).unwrap();
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    env.commit_all("remote");
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    env.git(&["push", "-q", "-u", "origin", "main"]);
    env.git_ml(&["model", "register", "churn"]).success();
    env.git_ml(&["model", "promote", "churn", "production"])
        .success();
    env.git_ml(&["push"]).success();
    let clone = env.clone_repo_from(&bare);
    clone.git_ml(&["pull"]).success();
    let show = clone.git_ml(&["model", "show", "--json"]).success().json();
    assert_eq!(show[0]["stages"]["production"], "v0.1.0");
}

/// GTO (from PyPI) reads the tags git-ml writes, and git-ml reads the tags GTO writes.
#[test]
fn gto_round_trip() {
    let env = setup();
    env.git_ml(&["model", "register", "churn", "--version", "v1.0.0"])
        .success();
    env.git_ml(&["model", "promote", "churn", "production"])
        .success();
    let gto = |args: &[&str]| -> String {
        let out = env
            .command("gto", &env.root)
            // GTO's git library reads only git's raw date format, not ISO 8601.
            .env("GIT_COMMITTER_DATE", "1767225600 +0000")
            .env("GIT_AUTHOR_DATE", "1767225600 +0000")
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run `gto` ({e}); install it with `pip install gto`")
            });
        assert!(
            out.status.success(),
            "gto {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown: serde_json::Value = serde_json::from_str(&gto(&["show", "--json"])).unwrap();
    assert_eq!(shown["churn"]["version"], "v1.0.0", "{shown}");
    assert_eq!(shown["churn"]["stage"]["production"], "v1.0.0", "{shown}");
    let history = gto(&["history", "churn", "--json"]);
    assert!(history.contains("churn#production#1"), "{history}");

    // Now GTO writes: a new version, a stage, and a deprecation of the old stage.
    new_version(&env, 3, 0.9);
    gto(&["register", "churn", "HEAD", "--version", "v1.1.0"]);
    gto(&[
        "assign",
        "churn",
        "--version",
        "v1.1.0",
        "--stage",
        "staging",
    ]);
    gto(&["deprecate", "churn", "v1.0.0", "production"]);
    let ours = env
        .git_ml(&["model", "show", "churn", "--json"])
        .success()
        .json();
    assert_eq!(ours[0]["latest"], "v1.1.0", "{ours}");
    assert_eq!(ours[0]["stages"]["staging"], "v1.1.0", "{ours}");
    assert!(ours[0]["stages"].get("production").is_none(), "{ours}");
    // And our next event number continues GTO's count.
    let r = env
        .git_ml(&["model", "promote", "churn", "production", "--json"])
        .success()
        .json();
    let n: u64 = r["tag"]
        .as_str()
        .unwrap()
        .rsplit('#')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n >= 4, "{r}");
    let shown: serde_json::Value = serde_json::from_str(&gto(&["show", "--json"])).unwrap();
    assert_eq!(shown["churn"]["stage"]["production"], "v1.1.0", "{shown}");
}
