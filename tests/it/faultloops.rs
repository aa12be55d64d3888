//! Fault loops: each command that writes is killed (SIGKILL, no chance to clean up) at random
//! moments, 50 times by default, and after every kill the repository must hold: no partial
//! object visible in the cache or on the remote, `verify` clean, no user file lost or
//! half-written, no run record or registry tag lost, duplicated or unreadable, and the next
//! invocation completes. An interrupted push resumes without sending again what reached the
//! remote (the objects are counted on the remote).
//!
//! The kill moments are drawn uniformly over the time an uninterrupted run takes, measured
//! first. `GITML_FAULT_KILLS` sets the number of kills per command, `GITML_FAULT_SEED` the seed
//! (printed on failure, so a failing loop can be replayed).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{BIN, TestEnv, bytes};

struct Loop {
    rng: fastrand::Rng,
    seed: u64,
    kills: usize,
    /// How long the command takes when nobody kills it.
    span: Duration,
}

impl Loop {
    fn new(what: &str) -> Loop {
        let seed = std::env::var("GITML_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| fastrand::u64(..));
        let kills = std::env::var("GITML_FAULT_KILLS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(50);
        eprintln!("fault loop `{what}`: {kills} kills, GITML_FAULT_SEED={seed}");
        Loop {
            rng: fastrand::Rng::with_seed(seed),
            seed,
            kills,
            span: Duration::from_millis(50),
        }
    }

    /// Time one uninterrupted run of `args` (which must succeed) to place the kills.
    fn measure(&mut self, env: &TestEnv, dir: &Path, args: &[&str]) {
        let t = Instant::now();
        env.git_ml_in(dir, args).success();
        self.span = t.elapsed().max(Duration::from_millis(5));
    }

    /// Start `args` and SIGKILL it at a random moment within the measured span (it may have
    /// finished by then: the last moments of a command matter too).
    fn kill_once(&mut self, env: &TestEnv, dir: &Path, args: &[&str]) -> Duration {
        let at = self.span.mul_f64(self.rng.f64() * 1.1);
        // In a process group of its own, killed whole: git-ml and the git processes it runs
        // die together, as when a CI runner cancels a job or a terminal goes away. (Killing
        // git-ml alone lets a `git tag` it started finish a moment later, which is fine, and
        // would only make the counting below racy.)
        use std::os::unix::process::CommandExt;
        let mut child = env
            .command(BIN, dir)
            .args(args)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
        let _ = child.wait();
        at
    }

    fn ctx(&self, i: usize, at: Duration) -> String {
        format!(
            "kill {i} at {:.1} ms of {:.1} ms (GITML_FAULT_SEED={})",
            at.as_secs_f64() * 1e3,
            self.span.as_secs_f64() * 1e3,
            self.seed
        )
    }
}

/// Every object file under `dir` (a cache or a directory remote) hashes to its name, and no
/// temporary file is left where a reader would take it for an object.
#[track_caller]
fn assert_store_sound(dir: &Path, ctx: &str) -> usize {
    let objects = TestEnv::objects_under(dir);
    for obj in &objects {
        let fan = obj.parent().unwrap().file_name().unwrap().to_string_lossy();
        let name = format!("{fan}{}", obj.file_name().unwrap().to_string_lossy());
        assert_eq!(
            name.len(),
            64,
            "{ctx}: a stray file {} in the store",
            obj.display()
        );
        let actual = blake3::hash(&std::fs::read(obj).unwrap())
            .to_hex()
            .to_string();
        assert_eq!(actual, name, "{ctx}: object {} is corrupt", obj.display());
    }
    objects.len()
}

#[track_caller]
fn assert_verify_clean(env: &TestEnv, dir: &Path, ctx: &str) {
    let r = env.git_ml_in(dir, &["verify"]);
    assert_eq!(r.code, 0, "{ctx}: verify: {}", r.stderr);
}

/// Files of a work tree and their contents.
fn tree(n: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![("big.bin".to_string(), bytes(seed, 6 * 1024 * 1024))];
    files.extend((0..n).map(|i| {
        (
            format!("d/{i:03}.bin"),
            bytes(seed * 1000 + i as u64, 24_000),
        )
    }));
    files
}

fn write_tree(env: &TestEnv, files: &[(String, Vec<u8>)]) {
    for (p, c) in files {
        env.write(p, c);
    }
}

#[track_caller]
fn assert_tree(dir: &Path, files: &[(String, Vec<u8>)], ctx: &str) {
    for (p, c) in files {
        let now = std::fs::read(dir.join(p)).unwrap_or_else(|e| panic!("{ctx}: `{p}`: {e}"));
        assert!(now == *c, "{ctx}: `{p}` changed");
    }
}

#[test]
fn faultloop_add() {
    let env = TestEnv::new();
    let files = tree(60, 1);
    write_tree(&env, &files);
    let mut l = Loop::new("add");
    l.measure(&env, &env.root, &["add", "big.bin", "d"]);
    for i in 0..l.kills {
        // From scratch each time, so that every kill lands in real work.
        std::fs::remove_dir_all(env.cache_dir()).unwrap();
        let at = l.kill_once(&env, &env.root, &["add", "big.bin", "d"]);
        let ctx = l.ctx(i, at);
        assert_store_sound(&env.cache_dir(), &ctx);
        assert_tree(&env.root, &files, &ctx);
        // A pointer, if written, is whole: status reads every one (exit 0 or 1, never 2).
        let st = env.git_ml(&["status"]);
        assert!(st.code <= 1, "{ctx}: status: {}", st.stderr);
        assert_verify_clean(&env, &env.root, &ctx);
        env.git_ml(&["add", "big.bin", "d"]).success();
        let st = env.git_ml(&["status", "--json"]);
        assert_eq!(st.code, 0, "{ctx}: after the rerun: {}", st.stdout);
    }
}

#[test]
fn faultloop_checkout() {
    let env = TestEnv::new();
    let v1 = tree(60, 2);
    let v2 = tree(60, 3);
    write_tree(&env, &v1);
    env.git_ml(&["add", "big.bin", "d"]).success();
    env.commit_all("v1");
    write_tree(&env, &v2);
    env.git_ml(&["add", "big.bin", "d"]).success();
    env.commit_all("v2");
    let mut l = Loop::new("checkout");
    env.git(&["checkout", "-q", "HEAD~1"]);
    l.measure(&env, &env.root, &["checkout"]);
    let mut on_v1 = true;
    for i in 0..l.kills {
        // Switch the pointers to the other version, then kill the checkout that follows.
        env.git(&["checkout", "-q", if on_v1 { "main" } else { "main~1" }]);
        let (want, other) = if on_v1 { (&v2, &v1) } else { (&v1, &v2) };
        on_v1 = !on_v1;
        let at = l.kill_once(&env, &env.root, &["checkout"]);
        let ctx = l.ctx(i, at);
        for ((p, new), (_, old)) in want.iter().zip(other.iter()) {
            let now = std::fs::read(env.path(p)).unwrap_or_else(|e| panic!("{ctx}: `{p}`: {e}"));
            assert!(now == *new || now == *old, "{ctx}: `{p}` is half-written");
        }
        assert_store_sound(&env.cache_dir(), &ctx);
        assert_verify_clean(&env, &env.root, &ctx);
        env.git_ml(&["checkout"]).success();
        assert_tree(&env.root, want, &ctx);
    }
    let st = env.git(&[
        "status",
        "--porcelain",
        "--untracked-files=all",
        "--ignored",
    ]);
    assert!(!st.contains("gitml-tmp"), "{st}");
}

#[test]
fn faultloop_push_resumes_without_sending_twice() {
    let env = TestEnv::new();
    let store = env.base.join("store");
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    write_tree(&env, &tree(120, 4));
    env.git_ml(&["add", "big.bin", "d"]).success();
    env.commit_all("v1");
    let total = env.cache_objects().len();
    let push = ["push", "--no-notes"];
    let mut l = Loop::new("push");
    l.measure(&env, &env.root, &push);
    for i in 0..l.kills {
        std::fs::remove_dir_all(&store).unwrap();
        let at = l.kill_once(&env, &env.root, &push);
        let ctx = l.ctx(i, at);
        let there = assert_store_sound(&store, &ctx);
        env.assert_cache_sound();
        let mut args = push.to_vec();
        args.push("--json");
        let r = env.git_ml(&args);
        r.success();
        let sent = r.json()["transferred"].as_u64().unwrap() as usize;
        assert_eq!(
            sent,
            total - there,
            "{ctx}: the resumed push sends exactly what the remote lacked ({there} of {total} were there)"
        );
        assert_eq!(assert_store_sound(&store, &ctx), total, "{ctx}");
    }
}

#[test]
fn faultloop_pull() {
    let env = TestEnv::new();
    let store = env.base.join("store");
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    let files = tree(120, 5);
    write_tree(&env, &files);
    env.git_ml(&["add", "big.bin", "d"]).success();
    env.commit_all("v1");
    env.git_ml(&["push"]).success();
    let clone = env.clone_repo();
    let mut l = Loop::new("pull");
    l.measure(&clone, &clone.root, &["pull"]);
    for i in 0..l.kills {
        std::fs::remove_dir_all(clone.cache_dir()).unwrap();
        let _ = std::fs::remove_dir_all(clone.path("d"));
        let _ = std::fs::remove_file(clone.path("big.bin"));
        let at = l.kill_once(&clone, &clone.root, &["pull"]);
        let ctx = l.ctx(i, at);
        assert_store_sound(&clone.cache_dir(), &ctx);
        // Each work-tree file is absent or whole.
        for (p, c) in &files {
            if let Ok(now) = std::fs::read(clone.path(p)) {
                assert!(now == *c, "{ctx}: `{p}` is half-written");
            }
        }
        assert_verify_clean(&clone, &clone.root, &ctx);
        clone.git_ml(&["pull"]).success();
        assert_tree(&clone.root, &files, &ctx);
    }
}

/// Run records on `rev`, as `show --json` lists them, after checking that every note line
/// parses (a torn write would show as a skipped line with a warning).
#[track_caller]
fn runs_on(env: &TestEnv, rev: &str, ctx: &str) -> Vec<serde_json::Value> {
    let r = env.git_ml(&["show", rev, "--json"]);
    assert_eq!(r.code, 0, "{ctx}: show: {}", r.stderr);
    assert!(!r.stderr.contains("warning"), "{ctx}: {}", r.stderr);
    r.json()["runs"].as_array().cloned().unwrap_or_default()
}

#[test]
fn faultloop_run() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(concat!(
        "\n[metrics]\nfiles = [\"m.json\"]\n",
        "\n[stages.a]\ncmd = \"cat in.txt in.txt in.txt > a.out\"\ndeps = [\"in.txt\"]\nouts = [\"a.out\"]\n",
        "\n[stages.b]\ncmd = \"cat a.out a.out > b.out\"\ndeps = [\"a.out\"]\nouts = [\"b.out\"]\n",
        "\n[stages.c]\ncmd = \"wc -c < b.out | sed 's/.*/{\\\"size\\\": &}/' > m.json\"\ndeps = [\"b.out\"]\nmetrics = [\"m.json\"]\n",
    ));
    env.write("gitml.toml", toml);
    env.write("in.txt", bytes(6, 2 * 1024 * 1024));
    env.write(".gitignore", "a.out\nb.out\n");
    env.commit_all("pipeline");
    let mut l = Loop::new("run");
    l.measure(&env, &env.root, &["run"]);
    for i in 0..l.kills {
        // New input, so that every stage has work to do.
        env.write("in.txt", bytes(100 + i as u64, 2 * 1024 * 1024));
        let at = l.kill_once(&env, &env.root, &["run"]);
        // A stage runs in its own process group and outlives a killed git-ml for a moment.
        std::thread::sleep(Duration::from_millis(200));
        let ctx = l.ctx(i, at);
        // gitml.lock is whole (status reads it), the cache is sound, verify is clean.
        let st = env.git_ml(&["status"]);
        assert!(st.code <= 1, "{ctx}: status: {}", st.stderr);
        assert_store_sound(&env.cache_dir(), &ctx);
        assert_verify_clean(&env, &env.root, &ctx);
        let _ = runs_on(&env, "HEAD", &ctx);
        let r = env.git_ml(&["run"]);
        assert_eq!(r.code, 0, "{ctx}: the next run: {}", r.stderr);
        let again = env.git_ml(&["run", "--dry-run"]);
        assert!(
            again.code == 0 && !again.stdout.contains("would run"),
            "{ctx}: up to date after the rerun: {}{}",
            again.stdout,
            again.stderr
        );
        let want = 3 * 2 * 2 * 1024 * 1024;
        assert_eq!(
            String::from_utf8(env.read("m.json")).unwrap().trim(),
            format!("{{\"size\": {want}}}"),
            "{ctx}"
        );
    }
}

#[test]
fn faultloop_record_neither_loses_nor_duplicates_a_run() {
    let env = TestEnv::new();
    env.write("x.txt", "x");
    env.commit_all("x");
    let mut l = Loop::new("record");
    l.measure(&env, &env.root, &["record", "--metric", "acc=0.5"]);
    let mut expected = 1;
    for i in 0..l.kills {
        let value = format!("acc={}", i as f64 / 100.0);
        let at = l.kill_once(&env, &env.root, &["record", "--metric", &value]);
        let ctx = l.ctx(i, at);
        let n = runs_on(&env, "HEAD", &ctx).len();
        assert!(
            n == expected || n == expected + 1,
            "{ctx}: {n} runs, expected {expected} or one more"
        );
        expected = n;
        env.git_ml(&["record", "--metric", &value]).success();
        let runs = runs_on(&env, "HEAD", &ctx);
        assert_eq!(runs.len(), expected + 1, "{ctx}");
        expected += 1;
        let mut ids: Vec<String> = runs.iter().map(|r| r["id"].to_string()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), runs.len(), "{ctx}: a run recorded twice");
    }
}

#[test]
fn faultloop_gc_keeps_what_is_needed() {
    let env = TestEnv::new();
    let keep = tree(80, 7);
    let mut l = Loop::new("gc");
    let gc = [
        "-c",
        "gc.grace=0",
        "-c",
        "gc.keep_commits=1",
        "gc",
        "--force",
    ];
    for i in 0..l.kills.max(1) {
        // Garbage: a version that no kept commit needs any more.
        write_tree(&env, &tree(80, 1000 + i as u64));
        env.git_ml(&["add", "big.bin", "d"]).success();
        env.commit_all("old");
        write_tree(&env, &keep);
        env.git_ml(&["add", "big.bin", "d"]).success();
        env.commit_all("kept");
        env.write("note.txt", format!("{i}"));
        env.commit_all("another");
        if i == 0 {
            l.measure(
                &env,
                &env.root,
                &["-c", "gc.grace=0", "-c", "gc.keep_commits=1", "gc"],
            );
        }
        let at = l.kill_once(&env, &env.root, &gc);
        let ctx = l.ctx(i, at);
        assert_store_sound(&env.cache_dir(), &ctx);
        assert_tree(&env.root, &keep, &ctx);
        assert_verify_clean(&env, &env.root, &ctx);
        // What HEAD needs is all still there: the work tree comes back from the cache alone.
        let restore = |ctx: &str| {
            std::fs::remove_dir_all(env.path("d")).unwrap();
            std::fs::remove_file(env.path("big.bin")).unwrap();
            let r = env.git_ml(&["checkout"]);
            assert_eq!(r.code, 0, "{ctx}: checkout from the cache: {}", r.stderr);
            assert_tree(&env.root, &keep, ctx);
        };
        restore(&ctx);
        env.git_ml(&gc).success();
        restore(&ctx);
    }
}

#[test]
fn faultloop_model_promote_neither_loses_nor_duplicates_an_event() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str("\n[models.churn]\npath = \"model.bin\"\n");
    env.write("gitml.toml", toml);
    env.write("model.bin", bytes(8, 4096));
    env.git_ml(&["add", "model.bin"]).success();
    env.commit_all("model");
    env.git_ml(&["model", "register", "churn"]).success();
    let stage_tags = |env: &TestEnv| -> Vec<String> {
        let out = env.git(&["tag", "-l", "churn#*"]);
        out.lines().map(str::to_string).collect()
    };
    let mut l = Loop::new("model promote");
    l.measure(&env, &env.root, &["model", "promote", "churn", "staging"]);
    for i in 0..l.kills {
        let stage = if i % 2 == 0 { "production" } else { "staging" };
        let before = stage_tags(&env).len();
        let at = l.kill_once(&env, &env.root, &["model", "promote", "churn", stage]);
        let ctx = l.ctx(i, at);
        let after = stage_tags(&env).len();
        assert!(
            after == before || after == before + 1,
            "{ctx}: {before} -> {after} tags"
        );
        // Every tag reads (history lists each event once, numbered without gaps or repeats).
        let h = env.git_ml(&["model", "history", "churn", "--json"]);
        assert_eq!(h.code, 0, "{ctx}: history: {}", h.stderr);
        env.git_ml(&["model", "promote", "churn", stage]).success();
        let tags = stage_tags(&env);
        assert_eq!(tags.len(), after + 1, "{ctx}: exactly one more promotion");
        let mut numbers: Vec<u64> = tags
            .iter()
            .filter_map(|t| t.rsplit('#').next()?.parse().ok())
            .collect();
        numbers.sort();
        let n = numbers.len();
        numbers.dedup();
        assert_eq!(
            numbers.len(),
            n,
            "{ctx}: an event number used twice: {tags:?}"
        );
        let show = env.git_ml(&["model", "show", "--json"]);
        assert_eq!(show.code, 0, "{ctx}: {}", show.stderr);
        assert!(show.stdout.contains(stage), "{ctx}: {}", show.stdout);
    }
}
