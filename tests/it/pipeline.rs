//! The pipeline: real shell-command stages in real repositories.

use std::time::{Duration, Instant};

use crate::common::TestEnv;

const PIPELINE: &str = r#"
[params]
files = ["params.yaml"]

[stages.prepare]
cmd = "mkdir -p feat && head -n 5 raw/data.csv > feat/x.csv && echo prepared >> log.txt"
deps = ["raw/data.csv"]
params = ["prep.n"]
outs = ["feat"]

[stages.train]
cmd = "wc -l < feat/x.csv > model.txt && echo '{\"acc\": 0.9}' > metrics.json && echo trained >> log.txt"
deps = ["feat", "train.sh"]
params = ["train"]
outs = ["model.txt"]
metrics = ["metrics.json"]
"#;

fn setup() -> TestEnv {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(PIPELINE);
    env.write("gitml.toml", toml);
    env.write(
        "raw/data.csv",
        (1..=100).map(|i| format!("{i}\n")).collect::<String>(),
    );
    env.write(
        "params.yaml",
        "prep:\n  n: 5\ntrain:\n  lr: 0.1\n  epochs: 3\nunrelated: 1\n",
    );
    env.write("train.sh", "# the training script\n");
    env.write(".gitignore", "log.txt\n");
    env.commit_all("pipeline");
    env
}

fn runs(env: &TestEnv) -> Vec<String> {
    std::fs::read_to_string(env.path("log.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn outcome(json: &serde_json::Value, stage: &str) -> String {
    json["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == stage)
        .map(|s| s["outcome"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no stage {stage} in {json}"))
}

#[test]
fn runs_what_is_stale_and_skips_the_rest() {
    let env = setup();
    let first = env.git_ml(&["run", "--json"]).success().json();
    assert_eq!(outcome(&first, "prepare"), "ran");
    assert_eq!(outcome(&first, "train"), "ran");
    assert_eq!(runs(&env), ["prepared", "trained"]);
    assert_eq!(env.read("model.txt"), b"5\n");
    assert!(env.exists("model.txt.gitml") && env.exists("feat.gitml"));
    assert!(env.exists("gitml.lock"));
    let lock = std::fs::read_to_string(env.path("gitml.lock")).unwrap();
    assert!(
        lock.contains("[stages.train]") && lock.contains("\"train.lr\""),
        "{lock}"
    );
    // The run was recorded on HEAD, with the stage's metrics.
    let show = env.git_ml(&["show", "--json"]).success().json();
    assert_eq!(show["origin"], "record");
    assert_eq!(show["runs"][0]["metrics"]["acc"], 0.9);
    assert_eq!(show["runs"][0]["params"]["train.lr"], 0.1);

    // Nothing changed: nothing runs.
    let again = env.git_ml(&["run", "--json"]).success().json();
    assert_eq!(outcome(&again, "prepare"), "skipped");
    assert_eq!(outcome(&again, "train"), "skipped");
    assert_eq!(runs(&env).len(), 2);

    // A param nobody depends on: still nothing.
    env.write(
        "params.yaml",
        "prep:\n  n: 5\ntrain:\n  lr: 0.1\n  epochs: 3\nunrelated: 2\n",
    );
    env.git_ml(&["run"]).success();
    assert_eq!(runs(&env).len(), 2);

    // A param of train: only train reruns, and says why.
    env.write(
        "params.yaml",
        "prep:\n  n: 5\ntrain:\n  lr: 0.2\n  epochs: 3\nunrelated: 2\n",
    );
    let dry = env.git_ml(&["run", "--dry-run", "--json"]).success().json();
    assert_eq!(outcome(&dry, "train"), "would-run");
    let why = dry["stages"][1]["reasons"].to_string();
    assert!(why.contains("param `train.lr` changed"), "{why}");
    assert_eq!(runs(&env).len(), 2, "a dry run runs nothing");
    env.git_ml(&["run"]).success();
    assert_eq!(runs(&env), ["prepared", "trained", "trained"]);

    // A dep of the first stage: both rerun (train's input changed too).
    env.write("raw/data.csv", "9\n8\n7\n6\n5\n4\n");
    let r = env.git_ml(&["run", "--json"]).success().json();
    assert_eq!(outcome(&r, "prepare"), "ran");
    assert_eq!(outcome(&r, "train"), "ran");
    // The cmd: rerun.
    let toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    env.write("gitml.toml", toml.replace("head -n 5", "head -n 4"));
    let r = env.git_ml(&["run", "--json"]).success().json();
    assert_eq!(outcome(&r, "prepare"), "ran");
    assert_eq!(env.read("model.txt"), b"4\n");
    // An output edited by hand is noticed.
    env.write("model.txt", "tampered\n");
    let r = env
        .git_ml(&["run", "--json", "--no-record"])
        .success()
        .json();
    assert_eq!(outcome(&r, "train"), "restored");
    assert_eq!(env.read("model.txt"), b"4\n");
}

#[test]
fn the_run_cache_restores_outputs_instead_of_rerunning() {
    let env = setup();
    env.git_ml(&["run"]).success();
    env.write(
        "params.yaml",
        "prep:\n  n: 5\ntrain:\n  lr: 0.5\n  epochs: 3\nunrelated: 1\n",
    );
    env.git_ml(&["run"]).success();
    assert_eq!(runs(&env).len(), 3);
    // Back to the first params: seen before, so restored, not run.
    env.write(
        "params.yaml",
        "prep:\n  n: 5\ntrain:\n  lr: 0.1\n  epochs: 3\nunrelated: 1\n",
    );
    let r = env.git_ml(&["run", "--json"]).success().json();
    assert_eq!(outcome(&r, "train"), "restored");
    assert_eq!(runs(&env).len(), 3);
    env.git_ml(&["status"]).success();
    // --force runs it anyway.
    env.git_ml(&["run", "--force", "train"]).success();
    assert_eq!(
        runs(&env).len(),
        5,
        "--force reruns train and what it depends on"
    );
}

#[test]
fn a_failing_stage_stops_its_dependents_and_keeps_its_lock_entry() {
    let env = setup();
    env.git_ml(&["run"]).success();
    let lock_before = std::fs::read_to_string(env.path("gitml.lock")).unwrap();
    let toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    let broken = toml.replace(
        "mkdir -p feat && head -n 5",
        "mkdir -p feat && echo half > feat/partial && exit 3 && head -n 5",
    );
    env.write("gitml.toml", &broken);
    let out = env.git_ml(&["run", "--json"]);
    out.code(2);
    let j = out.json();
    assert_eq!(outcome(&j, "prepare"), "failed");
    assert_eq!(outcome(&j, "train"), "not-run");
    assert!(
        out.stderr.contains("stage `prepare` failed") && out.stderr.contains("exited with code 3"),
        "{}",
        out.stderr
    );
    let lock_after = std::fs::read_to_string(env.path("gitml.lock")).unwrap();
    assert_eq!(
        lock_before, lock_after,
        "a failed stage leaves the lock as it was"
    );

    // A stage that "succeeds" without producing its output fails with that message.
    env.write(
        "gitml.toml",
        toml.replace("wc -l < feat/x.csv > model.txt && ", "true && "),
    );
    std::fs::remove_file(env.path("model.txt")).unwrap();
    let out = env.git_ml(&["run", "--force", "train"]);
    out.code(2);
    assert!(
        out.stderr.contains("did not produce") && out.stderr.contains("model.txt"),
        "{}",
        out.stderr
    );
}

#[test]
fn independent_stages_overlap_with_jobs() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    for name in ["a", "b", "c"] {
        toml.push_str(&format!(
            "\n[stages.{name}]\ncmd = \"date +%s.%N > {name}.start && sleep 1 && date +%s.%N > {name}.end\"\nouts = [\"{name}.end\"]\n"
        ));
    }
    env.write("gitml.toml", toml);
    env.write(".gitignore", "*.start\n");
    env.commit_all("three");
    let t0 = Instant::now();
    env.git_ml(&["run", "-j", "3", "--no-record"]).success();
    let elapsed = t0.elapsed();
    // Each started before any other ended: they overlapped.
    let read = |f: &str| -> f64 {
        String::from_utf8(env.read(f))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let latest_start = ["a", "b", "c"]
        .iter()
        .map(|n| read(&format!("{n}.start")))
        .fold(0.0, f64::max);
    let earliest_end = ["a", "b", "c"]
        .iter()
        .map(|n| read(&format!("{n}.end")))
        .fold(f64::MAX, f64::min);
    assert!(
        latest_start < earliest_end,
        "stages ran one after another ({elapsed:?})"
    );
    assert!(elapsed < Duration::from_secs(3) + Duration::from_millis(2500));
}

#[test]
fn bad_pipelines_are_clear_errors_pointing_at_the_stage() {
    let env = TestEnv::new();
    let base = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    let check = |extra: &str, want: &str| {
        env.write("gitml.toml", format!("{base}{extra}"));
        let out = env.git_ml(&["run"]);
        out.code(2);
        assert!(
            out.stderr.contains(want),
            "want `{want}` in:\n{}",
            out.stderr
        );
        assert!(out.stderr.contains("gitml.toml:"), "{}", out.stderr);
    };
    check(
        "\n[stages.a]\ncmd = \"true\"\ndeps = [\"y\"]\nouts = [\"x\"]\n\n[stages.b]\ncmd = \"true\"\ndeps = [\"x\"]\nouts = [\"y\"]\n",
        "cycle",
    );
    check(
        "\n[stages.a]\ncmd = \"true\"\nouts = [\"x\"]\n\n[stages.b]\ncmd = \"true\"\nouts = [\"x\"]\n",
        "overlaps",
    );
    check(
        "\n[stages.a]\ncmd = \"true\"\ndeps = [\"nope.csv\"]\n",
        "does not exist",
    );
    check("\n[stages.a]\ndeps = []\n", "needs `cmd");
    check(
        "\n[stages.a]\ncmd = \"true\"\nouts = [\"../escape\"]\n",
        "escape",
    );
    check(
        "\n[stages.a]\ncmd = \"true\"\nfrobnicate = 1\n",
        "unknown key",
    );
    env.write(
        "gitml.toml",
        format!("{base}\n[stages.a]\ncmd = \"true\"\n"),
    );
    let out = env.git_ml(&["run", "nosuchstage"]);
    out.code(2);
    assert!(
        out.stderr.contains("no stage named `nosuchstage`"),
        "{}",
        out.stderr
    );
}

#[test]
fn dag_prints_text_mermaid_and_dot() {
    let env = setup();
    let text = env.git_ml(&["dag"]).success().stdout.clone();
    assert!(text.contains("train  <- prepare"), "{text}");
    let m = env.git_ml(&["dag", "--mermaid"]).success().stdout.clone();
    assert!(
        m.starts_with("flowchart TD") && m.contains("prepare --> train"),
        "{m}"
    );
    let d = env.git_ml(&["dag", "--dot"]).success().stdout.clone();
    assert!(d.contains("\"prepare\" -> \"train\""), "{d}");
}

#[test]
fn sigterm_stops_the_running_stage_and_its_children_and_keeps_finished_stages() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(concat!(
        "\n[stages.quick]\ncmd = \"echo done > quick.txt\"\nouts = [\"quick.txt\"]\n",
        "\n[stages.slow]\ncmd = \"sh -c 'echo $$ > slow.pid; sleep 60' ; echo finished > slow.txt\"\n",
        "deps = [\"quick.txt\"]\nouts = [\"slow.txt\"]\n",
    ));
    env.write("gitml.toml", toml);
    env.write(".gitignore", "slow.pid\n");
    env.commit_all("slow pipeline");
    let mut child = env
        .command(crate::common::BIN, &env.root)
        .args(["run", "--no-record"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the slow stage's grandchild is running.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !env.path("slow.pid").exists() {
        assert!(Instant::now() < deadline, "the slow stage never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let grandchild = String::from_utf8(env.read("slow.pid"))
        .unwrap()
        .trim()
        .to_string();
    let t0 = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t0.elapsed()
    );
    // The stage's own child is gone too (its process group was stopped).
    std::thread::sleep(Duration::from_millis(300));
    // Gone, or a zombie waiting for a reaper (not running any more).
    let alive = std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        })
        .unwrap_or(false);
    assert!(
        !alive,
        "process {grandchild} of the stopped stage is still running"
    );
    assert!(!env.exists("slow.txt"));
    // The finished stage kept its lock entry; the stopped one has none.
    let lock = std::fs::read_to_string(env.path("gitml.lock")).unwrap();
    assert!(
        lock.contains("[stages.quick]") && !lock.contains("[stages.slow]"),
        "{lock}"
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("interrupted"), "{stderr}");
}

/// Two stages that depend on nothing but their own input file.
fn two_stage_repo() -> TestEnv {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    for n in ["a", "b"] {
        toml.push_str(&format!(
            "\n[stages.{n}]\ncmd = \"cp {n}.in {n}.out\"\ndeps = [\"{n}.in\"]\nouts = [\"{n}.out\"]\n"
        ));
    }
    env.write("gitml.toml", toml);
    env.write("a.in", "1");
    env.write("b.in", "1");
    env.git_ml(&["run", "--no-record"]).success();
    env.commit_all("both stages");
    env
}

#[test]
fn the_merge_driver_merges_different_stages_and_marks_real_conflicts() {
    let env = two_stage_repo();
    env.git(&["checkout", "-q", "-b", "left"]);
    env.write("a.in", "2");
    env.git_ml(&["run", "--no-record"]).success();
    env.commit_all("a changed");
    env.git(&["checkout", "-q", "main"]);
    env.write("b.in", "2");
    env.git_ml(&["run", "--no-record"]).success();
    env.commit_all("b changed");
    env.git(&["merge", "-q", "--no-edit", "left"]);
    let lock = std::fs::read_to_string(env.path("gitml.lock")).unwrap();
    assert!(!lock.contains("<<<<<<<"), "{lock}");
    env.git_ml(&["checkout"]).success();
    let r = env
        .git_ml(&["run", "--json", "--no-record"])
        .success()
        .json();
    assert!(
        r["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["outcome"] == "skipped"),
        "after the merge both stages are up to date: {r}"
    );

    // The same stage changed differently on both sides: a real conflict, with a hint.
    env.git(&["checkout", "-q", "-b", "x"]);
    env.write("a.in", "3");
    env.git_ml(&["run", "--no-record"]).success();
    env.commit_all("a=3");
    env.git(&["checkout", "-q", "main"]);
    env.write("a.in", "4");
    env.git_ml(&["run", "--no-record"]).success();
    env.commit_all("a=4");
    let out = env
        .command("git", &env.root)
        .args(["merge", "-q", "--no-edit", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let lock = std::fs::read_to_string(env.path("gitml.lock")).unwrap();
    assert!(
        lock.contains("<<<<<<< ours") && lock.contains(">>>>>>> theirs"),
        "{lock}"
    );
    assert!(lock.contains("git ml run a"), "{lock}");
    // Only stage a is in conflict: b's section is outside the markers.
    let before_markers = lock.split("<<<<<<<").next().unwrap();
    assert!(before_markers.contains("[stages.b]"), "{lock}");
}

#[test]
fn the_merge_driver_merges_files_added_to_one_directory_on_two_branches() {
    let env = TestEnv::new();
    env.write("data/base.csv", "0");
    env.git_ml(&["add", "data"]).success();
    env.commit_all("data");
    env.git(&["checkout", "-q", "-b", "left"]);
    env.write("data/left.csv", "L");
    env.git_ml(&["add", "data"]).success();
    env.commit_all("left adds a file");
    env.git(&["checkout", "-q", "main"]);
    env.git_ml(&["checkout"]).success();
    env.write("data/right.csv", "R");
    env.git_ml(&["add", "data"]).success();
    env.commit_all("right adds a file");
    env.git(&["merge", "-q", "--no-edit", "left"]);
    env.git_ml(&["checkout"]).success();
    for (f, want) in [
        ("data/base.csv", "0"),
        ("data/left.csv", "L"),
        ("data/right.csv", "R"),
    ] {
        assert_eq!(env.read(f), want.as_bytes(), "{f}");
    }
    env.git_ml(&["status"]).success();

    // The same file changed differently on both sides: a conflict naming it.
    env.git(&["checkout", "-q", "-b", "other"]);
    env.write("data/base.csv", "other");
    env.git_ml(&["add", "data"]).success();
    env.commit_all("other edits base");
    env.git(&["checkout", "-q", "main"]);
    env.git_ml(&["checkout"]).success();
    env.write("data/base.csv", "mine");
    env.git_ml(&["add", "data"]).success();
    env.commit_all("main edits base");
    let out = env
        .command("git", &env.root)
        .args(["merge", "-q", "--no-edit", "other"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let ptr = std::fs::read_to_string(env.path("data.gitml")).unwrap();
    assert!(
        ptr.contains("<<<<<<<") && ptr.contains("`base.csv`"),
        "{ptr}"
    );
}

#[test]
fn a_clone_restores_outputs_from_the_remote_run_cache_instead_of_rerunning() {
    let env = setup();
    let store = env.base.join("store");
    std::fs::create_dir_all(&store).unwrap();
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    env.git_ml(&["run", "--no-record"]).success();
    env.commit_all("ran the pipeline");
    env.git_ml(&["push", "--run-cache"]).success();

    let clone = env.clone_repo();
    // Without the remote run cache, the clone would have to run both stages.
    let dry = clone
        .git_ml(&["run", "--dry-run", "--json"])
        .success()
        .json();
    assert_eq!(outcome(&dry, "prepare"), "would-run");
    let r = clone
        .git_ml(&["run", "--pull-run-cache", "--json", "--no-record"])
        .success()
        .json();
    assert_eq!(outcome(&r, "prepare"), "restored");
    assert_eq!(outcome(&r, "train"), "restored");
    assert!(!clone.exists("log.txt"), "no stage ran in the clone");
    assert_eq!(clone.read("model.txt"), b"5\n");
    clone.git_ml(&["status"]).success();
    // The lock is unchanged: the restored outputs are exactly what was committed.
    assert_eq!(
        std::fs::read_to_string(clone.path("gitml.lock")).unwrap(),
        std::fs::read_to_string(env.path("gitml.lock")).unwrap()
    );
}

#[test]
fn a_whole_params_file_is_a_dependency_on_every_key() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(
        "\n[stages.s]\ncmd = \"echo ran >> log.txt && touch out.txt\"\nparams = [\"extra.yaml:\"]\nouts = [\"out.txt\"]\n",
    );
    env.write("gitml.toml", toml);
    env.write("extra.yaml", "a: 1\nb:\n  c: 2\n");
    env.write(".gitignore", "log.txt\n");
    env.commit_all("whole-file params");
    env.git_ml(&["run", "--no-record"]).success();
    let lock = std::fs::read_to_string(env.path("gitml.lock")).unwrap();
    assert!(lock.contains("\"extra.yaml:b.c\""), "{lock}");
    env.git_ml(&["run", "--no-record"]).success();
    assert_eq!(runs(&env).len(), 1);
    // A key that did not exist before changes the file's values too.
    env.write("extra.yaml", "a: 1\nb:\n  c: 2\nd: 3\n");
    let dry = env.git_ml(&["run", "--dry-run", "--json"]).success().json();
    assert_eq!(outcome(&dry, "s"), "would-run");
    env.git_ml(&["run", "--no-record"]).success();
    assert_eq!(runs(&env).len(), 2);
    // And so does a key that went away.
    env.write("extra.yaml", "a: 1\nd: 3\n");
    let dry = env.git_ml(&["run", "--dry-run", "--json"]).success().json();
    assert!(
        dry["stages"][0]["reasons"]
            .to_string()
            .contains("param `extra.yaml:b.c` removed"),
        "{dry}"
    );
    env.git_ml(&["run", "--no-record"]).success();
    assert_eq!(runs(&env).len(), 3);
}

#[test]
fn the_merge_driver_says_what_it_did_with_binary_input() {
    let env = TestEnv::new();
    let (base, ours, theirs) = (
        env.base.join("base"),
        env.base.join("ours"),
        env.base.join("theirs"),
    );
    std::fs::write(&base, b"version = 1\n").unwrap();
    std::fs::write(&ours, b"\x00\x01binary ours").unwrap();
    std::fs::write(&theirs, b"version = 1\ntype = \"file\"\n").unwrap();
    let r = env.git_ml(&[
        "merge-driver",
        base.to_str().unwrap(),
        ours.to_str().unwrap(),
        theirs.to_str().unwrap(),
        "m.bin.gitml",
    ]);
    r.code(1);
    assert!(r.stderr.contains("not text"), "{}", r.stderr);
    assert!(!r.stderr.contains("markers"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(&ours).unwrap(),
        b"\x00\x01binary ours",
        "ours was changed"
    );
}

#[test]
fn a_signal_to_the_git_wrappers_process_group_reaches_the_stages() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(
        "\n[stages.slow]\ncmd = \"sh -c 'echo $$ > slow.pid; sleep 60'; echo x > slow.txt\"\nouts = [\"slow.txt\"]\n",
    );
    env.write("gitml.toml", toml);
    env.write(".gitignore", "slow.pid\n");
    env.commit_all("slow");
    // As a user runs it: `git ml run`, git's dispatcher in front, one process group (a shell's
    // job); Ctrl-C or `kill -TERM -PGID` signals the whole group.
    let mut cmd = env.command("git", &env.root);
    cmd.args(["ml", "run", "--no-record"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !env.path("slow.pid").exists() {
        assert!(Instant::now() < deadline, "the slow stage never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let grandchild = String::from_utf8(env.read("slow.pid"))
        .unwrap()
        .trim()
        .to_string();
    std::process::Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    let t0 = Instant::now();
    let running = || {
        std::fs::read_to_string(format!("/proc/{grandchild}/stat")).is_ok_and(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        })
    };
    while running() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !running(),
        "the stage's process {grandchild} outlived the signal"
    );
    assert!(!env.exists("slow.txt"));
}

#[test]
fn a_fresh_clone_without_its_data_says_to_pull_it() {
    let env = TestEnv::new();
    env.write("raw/data.csv", "1\n2\n");
    env.git_ml(&["add", "raw"]).success();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str("\n[stages.count]\ncmd = \"wc -l < raw/data.csv > n.txt\"\ndeps = [\"raw\"]\nouts = [\"n.txt\"]\n");
    env.write("gitml.toml", toml);
    env.git_ml(&["run", "-q"]).success();
    env.commit_all("pipeline");
    let clone = env.clone_repo();
    let r = clone.git_ml(&["status"]);
    r.code(1);
    assert!(
        r.stdout.contains("raw") && r.stdout.contains("missing"),
        "{}",
        r.stdout
    );
    let r = clone.git_ml(&["run"]);
    r.code(2);
    assert!(
        r.stderr.contains("dep `raw` is tracked data") && r.stderr.contains("git ml pull"),
        "{}",
        r.stderr
    );
}
