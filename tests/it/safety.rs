//! Data safety: regressions for defects found by hostile testing (issue 10). Each test failed on
//! the code before its fix: files deleted outside the repository, corruption that spread through
//! hard links, unverified checkouts, data collected while a stash still needed it, concurrent
//! pipeline runs, stages escaping the repository, credentials in URLs, `@mentions` reaching
//! Markdown, newlines in tracked names and conflicting pointers.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::common::{TestEnv, bytes};

fn age(path: &Path, by: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - by).unwrap();
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

fn append(path: &Path, extra: &[u8]) {
    use std::io::Write;
    // Root ignores the read-only bit; a user gets there with a chmod. Either way, one append.
    make_writable(path);
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(extra).unwrap();
}

fn object_in(dir: &Path, content: &[u8]) -> PathBuf {
    let h = blake3::hash(content).to_hex().to_string();
    dir.join("blake3").join(&h[..2]).join(&h[2..])
}

fn hashes_to_its_name(path: &Path) -> bool {
    let name = format!(
        "{}{}",
        path.parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy(),
        path.file_name().unwrap().to_string_lossy()
    );
    blake3::hash(&std::fs::read(path).unwrap())
        .to_hex()
        .as_str()
        == name
}

// 1. Only our own temp files are swept, and a committed `cache.dir` cannot leave the repository.

#[test]
fn add_sweeps_only_its_own_temp_files() {
    let env = TestEnv::new();
    let tmp = env.cache_dir().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let user_file = tmp.join("a.txt");
    std::fs::write(&user_file, "not ours").unwrap();
    age(&user_file, Duration::from_secs(2 * 86400));
    let ours = tmp.join(".object.gitml-tmp.1.1");
    std::fs::write(&ours, "left by a killed add").unwrap();
    age(&ours, Duration::from_secs(2 * 86400));
    env.write("a.bin", bytes(1, 100));
    env.git_ml(&["add", "a.bin"]).success();
    assert!(
        user_file.exists(),
        "a file git-ml did not write was deleted"
    );
    assert!(!ours.exists(), "an old temp file of ours was not swept");
}

#[test]
fn a_committed_cache_dir_outside_the_repository_is_ignored_and_said() {
    let env = TestEnv::new();
    let evil = env.base.join("evilcache");
    std::fs::create_dir_all(evil.join("tmp")).unwrap();
    let victim = evil.join("tmp").join("precious.txt");
    std::fs::write(&victim, "user data").unwrap();
    age(&victim, Duration::from_secs(2 * 86400));
    let toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    env.write(
        "gitml.toml",
        toml.replace(
            "# dir = \"/mnt/fast/gitml-cache\"",
            "dir = \"../evilcache\"",
        ),
    );
    env.write("a.bin", bytes(2, 100));
    let r = env.git_ml(&["add", "a.bin"]);
    r.success();
    assert!(
        r.stderr.contains("cache.dir") && r.stderr.contains("outside the repository"),
        "the ignored setting is not mentioned: {}",
        r.stderr
    );
    assert!(victim.exists(), "a file outside the repository was deleted");
    assert!(
        !evil.join("blake3").exists(),
        "objects were written where a cloned repository asked"
    );
    assert!(env.object_path(&bytes(2, 100)).exists());
    // The same directory chosen on this machine is honoured.
    let r = env.git_ml(&[
        "-c",
        &format!("cache.dir={}", evil.display()),
        "add",
        "a.bin",
    ]);
    r.success();
    assert!(object_in(&evil, &bytes(2, 100)).exists());
    assert!(victim.exists());
}

// 2. Corruption must not spread through hard links; push repairs what the remote lost.

fn dir_remote(env: &TestEnv) -> PathBuf {
    let store = env.base.join("store");
    std::fs::create_dir_all(&store).unwrap();
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    store
}

#[test]
fn a_hardlinked_work_tree_never_shares_an_inode_with_a_remote() {
    let env = TestEnv::new();
    let store = dir_remote(&env);
    let data = bytes(3, 50_000);
    env.write("model.bin", &data);
    env.git_ml(&["add", "model.bin"]).success();
    env.commit_all("model");
    env.git_ml(&["push"]).success();
    // Hard links chosen after the push.
    std::fs::remove_file(env.path("model.bin")).unwrap();
    env.git_ml(&["checkout", "--link", "hardlink"]).success();
    let remote_obj = object_in(&store, &data);
    let work = env.path("model.bin");
    assert_ne!(
        std::fs::metadata(&work).unwrap().ino(),
        std::fs::metadata(&remote_obj).unwrap().ino(),
        "the work tree shares the remote's inode"
    );
    append(&work, b"oops");
    assert!(
        hashes_to_its_name(&remote_obj),
        "the remote object was corrupted"
    );
    // And the other order: hard links first, then a push to a new remote.
    let env = TestEnv::new();
    let store = dir_remote(&env);
    env.write("model.bin", &data);
    env.git_ml(&["add", "model.bin"]).success();
    env.commit_all("model");
    std::fs::remove_file(env.path("model.bin")).unwrap();
    env.git_ml(&["checkout", "--link", "hardlink"]).success();
    assert_eq!(
        std::fs::metadata(env.path("model.bin")).unwrap().ino(),
        std::fs::metadata(env.object_path(&data)).unwrap().ino(),
        "the hard link mode was not used"
    );
    env.git_ml(&["push"]).success();
    let remote_obj = object_in(&store, &data);
    append(&env.path("model.bin"), b"oops");
    assert!(
        hashes_to_its_name(&remote_obj),
        "the remote object was corrupted"
    );
    // A clone pulling from that remote is unharmed too.
    let clone = env.clone_repo();
    clone
        .git_ml(&["remote", "add", "store2", store.to_str().unwrap()])
        .success();
    clone.git_ml(&["pull", "-r", "store2"]).success();
    assert_eq!(clone.read("model.bin"), data);
}

#[test]
fn push_repairs_a_remote_that_lost_a_leaf_and_status_remote_reports_it() {
    let env = TestEnv::new();
    let store = dir_remote(&env);
    for i in 0..5 {
        env.write(&format!("data/f{i}.bin"), bytes(20 + i, 1000));
    }
    env.git_ml(&["add", "data"]).success();
    env.commit_all("data");
    env.git_ml(&["push"]).success();
    let lost = object_in(&store, &bytes(22, 1000));
    std::fs::remove_file(&lost).unwrap();
    let r = env.git_ml(&["status", "--remote", "--json"]);
    r.code(1);
    let j = r.json();
    assert_eq!(j["pushed"], false, "{j}");
    assert_eq!(j["paths"][0]["objects"], 1, "{j}");
    let r = env.git_ml(&["push", "--json"]);
    r.success();
    assert_eq!(r.json()["transferred"], 1, "{}", r.stdout);
    assert!(lost.exists() && hashes_to_its_name(&lost));
}

#[test]
fn push_verify_replaces_a_corrupt_remote_object() {
    let env = TestEnv::new();
    let store = dir_remote(&env);
    let data = bytes(4, 5000);
    env.write("a.bin", &data);
    env.git_ml(&["add", "a.bin"]).success();
    env.commit_all("a");
    env.git_ml(&["push"]).success();
    let obj = object_in(&store, &data);
    // Break the shared inode first so only the remote's copy goes bad.
    std::fs::remove_file(&obj).unwrap();
    std::fs::write(&obj, b"garbage").unwrap();
    let r = env.git_ml(&["push", "--json"]);
    r.success();
    assert_eq!(r.json()["transferred"], 0, "a plain push trusts presence");
    let r = env.git_ml(&["push", "--verify", "--json"]);
    r.success();
    let j = r.json();
    assert_eq!(j["transferred"], 1, "{j}");
    assert_eq!(j["repaired"], 1, "{j}");
    assert!(hashes_to_its_name(&obj));
}

// 3. A corrupt cache object is never copied into the work tree as if it were good.

#[test]
fn checkout_verifies_objects_and_quarantines_a_corrupt_one() {
    let env = TestEnv::new();
    let data = bytes(5, 10_000);
    env.write("a.bin", &data);
    env.git_ml(&["add", "a.bin"]).success();
    std::fs::remove_file(env.path("a.bin")).unwrap();
    let obj = env.object_path(&data);
    make_writable(&obj);
    std::fs::write(&obj, bytes(6, 10_000)).unwrap();
    let r = env.git_ml(&["checkout"]);
    r.code(2);
    assert!(
        r.stderr.contains("a.bin") && r.stderr.contains("corrupt"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("git ml pull"), "{}", r.stderr);
    assert!(!env.exists("a.bin"), "a corrupt copy reached the work tree");
    assert!(!obj.exists(), "the corrupt object was left in place");
    assert!(
        env.cache_dir()
            .join("quarantine")
            .read_dir()
            .unwrap()
            .count()
            > 0,
        "the corrupt object was not kept aside"
    );
    env.git_ml(&["status"]).code(1);
    // Large files go through the other copy path.
    let big = bytes(7, 20 * 1024 * 1024);
    env.write("big.bin", &big);
    env.git_ml(&["add", "big.bin"]).success();
    std::fs::remove_file(env.path("big.bin")).unwrap();
    let obj = env.object_path(&big);
    append(&obj, b"x");
    env.git_ml(&["checkout", "big.bin"]).code(2);
    assert!(!env.exists("big.bin"));
}

// 4. gc keeps what any ref, stash entry or recent reflog entry needs.

#[test]
fn gc_keeps_data_that_only_a_stash_or_another_ref_needs() {
    let env = TestEnv::new();
    env.write("d.bin", bytes(8, 1000));
    env.git_ml(&["add", "d.bin"]).success();
    env.commit_all("v1");
    // Only a stash entry refers to v2, and only an older stash entry to v3.
    env.write("d.bin", bytes(9, 1000));
    env.git_ml(&["add", "d.bin"]).success();
    env.git(&["stash", "-q"]);
    env.write("d.bin", bytes(10, 1000));
    env.git_ml(&["add", "d.bin"]).success();
    env.git(&["stash", "-q"]);
    // Only a custom ref refers to v4.
    env.write("d.bin", bytes(11, 1000));
    env.git_ml(&["add", "d.bin"]).success();
    env.git(&["checkout", "-q", "-b", "tmp"]);
    env.commit_all("v4");
    let v4 = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    env.git(&["update-ref", "refs/keep/experiment", &v4]);
    env.git(&["checkout", "-q", "main"]);
    env.git(&["branch", "-q", "-D", "tmp"]);
    env.git_ml(&["checkout", "--force"]).success();
    // Only the uncommitted pointer of a linked worktree refers to v5, only the index to v6.
    let wt = env.base.join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap()]);
    std::fs::write(wt.join("d.bin"), bytes(12, 1000)).unwrap();
    env.git_ml_in(&wt, &["add", "d.bin"]).success();
    env.write("d.bin", bytes(13, 1000));
    env.git_ml(&["add", "d.bin"]).success();
    env.git(&["add", "d.bin.gitml"]);
    std::fs::write(
        env.path("d.bin.gitml"),
        env.git(&["show", "HEAD:d.bin.gitml"]),
    )
    .unwrap();
    env.git_ml(&["checkout", "--force"]).success();
    env.git_ml(&["-c", "gc.grace=0", "gc", "--force"]).success();
    for seed in [8, 9, 10, 11, 12, 13] {
        assert!(
            env.object_path(&bytes(seed, 1000)).exists(),
            "gc removed data of v{}",
            seed - 7
        );
    }
    env.git(&["reset", "-q", "--hard"]);
    env.git(&["stash", "pop", "-q"]);
    env.git_ml(&["checkout", "--force"]).success();
    assert_eq!(env.read("d.bin"), bytes(10, 1000));
}

// 5. Two runs at once wait for each other: one writer per output, no lost lock entry.

#[test]
fn two_runs_at_once_run_each_stage_once_and_keep_every_lock_entry() {
    let env = TestEnv::new();
    let count = env.base.join("count");
    let toml = format!(
        "{}\n[stages.a]\ncmd = \"echo a >> {c} && sleep 1 && echo A > a.txt\"\nouts = [\"a.txt\"]\n\n[stages.b]\ncmd = \"echo b >> {c} && sleep 1 && echo B > b.txt\"\nouts = [\"b.txt\"]\n",
        std::fs::read_to_string(env.path("gitml.toml")).unwrap(),
        c = count.display()
    );
    env.write("gitml.toml", toml);
    env.commit_all("pipeline");
    let spawn = || {
        env.command(crate::common::BIN, &env.root)
            .args(["run", "--no-record"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (one, two) = (spawn(), spawn());
    for child in [one, two] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ran = std::fs::read_to_string(&count).unwrap();
    let mut lines: Vec<&str> = ran.lines().collect();
    lines.sort();
    assert_eq!(lines, ["a", "b"], "a stage ran twice");
    let lock = String::from_utf8(env.read("gitml.lock")).unwrap();
    assert!(
        lock.contains("[stages.a]") || lock.contains("a:"),
        "lock lost stage a: {lock}"
    );
    let r = env.git_ml(&["run", "--dry-run", "--json"]);
    r.success();
    for s in r.json()["stages"].as_array().unwrap() {
        assert_eq!(s["outcome"], "skipped", "{s}");
    }
}

// 6. A stage's `wdir` cannot leave the repository.

#[test]
fn a_stage_wdir_outside_the_repository_is_refused_before_running() {
    for wdir in ["/tmp", "../..", "sub/../../x", "out", "missing"] {
        let env = TestEnv::new();
        std::os::unix::fs::symlink(&env.base, env.path("out")).unwrap();
        let marker = env.base.join("ran");
        let toml = format!(
            "{}\n[stages.escape]\ncmd = \"touch {}\"\nwdir = \"{wdir}\"\n",
            std::fs::read_to_string(env.path("gitml.toml")).unwrap(),
            marker.display()
        );
        env.write("gitml.toml", toml);
        let r = env.git_ml(&["run"]);
        r.code(2);
        assert!(
            r.stderr.contains("gitml.toml:") && r.stderr.contains("[stages.escape]"),
            "{wdir}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("wdir"), "{}", r.stderr);
        assert!(!marker.exists(), "the stage ran with wdir = {wdir}");
    }
}

#[test]
fn declared_files_outside_the_repository_are_refused() {
    for (section, line) in [
        ("metrics", "files = [\"../secret.json\"]"),
        ("params", "files = \"/etc/passwd.yaml\""),
        ("report", "template = \"/etc/hostname\""),
    ] {
        let env = TestEnv::new();
        std::fs::write(env.base.join("secret.json"), r#"{"token": 1}"#).unwrap();
        let toml = format!(
            "{}\n[{section}]\n{line}\n",
            std::fs::read_to_string(env.path("gitml.toml")).unwrap()
        );
        env.write("gitml.toml", toml);
        env.commit_all("declared");
        let r = if section == "report" {
            env.git_ml(&["report", "--format", "md"])
        } else {
            env.git_ml(&["record", "--metric", "a=1"])
        };
        r.code(2);
        assert!(r.stderr.contains(&format!("[{section}]")), "{}", r.stderr);
        assert!(
            env.git(&["notes", "--ref", "refs/notes/gitml", "list"])
                .is_empty(),
            "a run was recorded"
        );
    }
}

// 7. Credentials in URLs are refused for the committed file and never printed.

#[test]
fn a_password_in_a_remote_url_is_not_committed_or_printed() {
    let env = TestEnv::new();
    let r = env.git_ml(&["remote", "add", "web", "https://u:SECRET123@example.com/x"]);
    r.code(2);
    assert!(!r.stderr.contains("SECRET123"), "{}", r.stderr);
    assert!(r.stderr.contains("--local"), "{}", r.stderr);
    assert!(
        !String::from_utf8(env.read("gitml.toml"))
            .unwrap()
            .contains("SECRET123")
    );
    let r = env.git_ml(&[
        "remote",
        "add",
        "s3",
        "s3://b/p",
        "--endpoint",
        "http://key:SECRET456@127.0.0.1:1",
    ]);
    r.code(2);
    assert!(!r.stderr.contains("SECRET456"), "{}", r.stderr);
    // On this machine only, it is accepted, and never shown.
    env.git_ml(&[
        "remote",
        "add",
        "web",
        "https://u:SECRET123@example.com/x",
        "--local",
    ])
    .success();
    for args in [&["remote", "list"][..], &["remote", "list", "--json"][..]] {
        let r = env.git_ml(args);
        r.success();
        assert!(!r.stdout.contains("SECRET123"), "{}", r.stdout);
        assert!(r.stdout.contains("example.com"), "{}", r.stdout);
    }
    let r = env.git_ml(&["fetch", "-r", "web", "--no-notes"]);
    assert!(
        !r.stderr.contains("SECRET123") && !r.stdout.contains("SECRET123"),
        "{}",
        r.stderr
    );
    // A committed file that carries one anyway is refused without echoing it.
    let env = TestEnv::new();
    let toml = format!(
        "{}\n[remotes.web]\nurl = \"https://u:SECRET789@example.com/x\"\n",
        std::fs::read_to_string(env.path("gitml.toml")).unwrap()
    );
    env.write("gitml.toml", toml);
    let r = env.git_ml(&["remote", "list"]);
    r.code(2);
    assert!(!r.stderr.contains("SECRET789"), "{}", r.stderr);
    assert!(r.stderr.contains("[remotes.web]"), "{}", r.stderr);
}

// 8. `@mentions` never reach Markdown.

#[test]
fn mentions_in_names_are_neutralised_in_markdown() {
    let env = TestEnv::new();
    let toml = format!(
        "{}\n[metrics]\nfiles = [\"m.json\"]\n\n[gates.\"@octocat\"]\nmin = 0.1\n",
        std::fs::read_to_string(env.path("gitml.toml")).unwrap()
    );
    env.write("gitml.toml", toml);
    env.write("m.json", r#"{"@octocat": 0.5, "x@team/admins": 1}"#);
    env.commit_all("v1");
    env.git(&["checkout", "-q", "-b", "feature"]);
    env.write("m.json", r#"{"@octocat": 0.7, "x@team/admins": 2}"#);
    env.commit_all("v2");
    let outputs = [
        env.git_ml(&["diff", "main", "HEAD", "--md"]),
        env.git_ml(&["report", "--base", "main", "--format", "md"]),
        env.git_ml(&["check", "--base", "main", "--md"]),
    ];
    for r in &outputs {
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
        assert!(r.stdout.contains("octocat"), "{}", r.stdout);
        for (i, _) in r.stdout.match_indices('@') {
            let after = &r.stdout[i + 1..];
            assert!(
                !after.starts_with(|c: char| c.is_ascii_alphanumeric()),
                "a live mention at byte {i}: {}",
                r.stdout
            );
        }
    }
}

// 9. Newlines and control characters in names.

#[test]
fn a_newline_in_a_tracked_name_is_refused_and_control_characters_are_escaped() {
    let env = TestEnv::new();
    env.write("top\nlevel", "x");
    let r = env.git_ml(&["add", "top\nlevel"]);
    r.code(2);
    assert!(r.stderr.contains("top\\nlevel"), "{}", r.stderr);
    let ignore = std::fs::read_to_string(env.path(".gitignore")).unwrap_or_default();
    assert!(!ignore.contains("/top"), "{ignore}");
    assert!(!env.exists("top\nlevel.gitml"));
    // Inside a tracked directory such names are data; shown escaped, never raw.
    env.write("d/a\u{1b}]0;pwned\u{7}b.txt", "1");
    env.git_ml(&["add", "d"]).success();
    env.write("d/a\u{1b}]0;pwned\u{7}b.txt", "2");
    let r = env.git_ml(&["status"]);
    r.code(1);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        !all.contains('\u{1b}'),
        "an escape sequence reached the terminal"
    );
    assert!(
        all.contains("\\e]0;pwned") || all.contains("\\033]0;pwned"),
        "{all}"
    );
}

// 10. Conflicting pointers are refused before anything is written.

#[test]
fn conflicting_pointers_are_refused_before_checkout_writes() {
    let env = TestEnv::new();
    env.write("q/r", "inner");
    env.git_ml(&["add", "q/r"]).success();
    env.write("q2", "outer");
    env.git_ml(&["add", "q2"]).success();
    // A pointer for `q` (a file) next to `q/r.gitml`: `q` cannot be both.
    std::fs::copy(env.path("q2.gitml"), env.path("q.gitml")).unwrap();
    env.commit_all("conflict");
    std::fs::remove_file(env.path("q/r")).unwrap();
    let r = env.git_ml(&["checkout", "--force"]);
    r.code(2);
    assert!(
        r.stderr.contains("q.gitml") && r.stderr.contains("q/r.gitml"),
        "{}",
        r.stderr
    );
    assert!(env.exists("q/r.gitml"), "a git-tracked pointer was deleted");
    assert!(!env.exists("q/r"), "checkout wrote before refusing");
}

#[test]
fn hints_quote_the_names_they_mention() {
    let env = TestEnv::new();
    env.write("-rf", "x");
    env.write("my data", "y");
    let r = env.git_ml(&["add", "--", "-rf", "my data"]);
    r.success();
    assert!(
        r.stderr
            .contains("`git add -- -rf.gitml 'my data.gitml' .gitignore`"),
        "{}",
        r.stderr
    );
    // The hint, pasted, does what it says.
    let hint = r.stderr.split('`').nth(1).unwrap().to_string();
    let out = env
        .command("sh", &env.root)
        .args(["-c", &hint])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let staged = env.git(&["diff", "--cached", "--name-only"]);
    assert!(
        staged.contains("-rf.gitml") && staged.contains("my data.gitml"),
        "{staged}"
    );
}

#[test]
fn a_stage_writing_its_output_in_place_cannot_corrupt_the_cache() {
    let env = TestEnv::new();
    let toml = format!(
        "{}\n[stages.s]\ncmd = \"echo $(cat n) >> out.txt\"\ndeps = [\"n\"]\nouts = [\"out.txt\"]\n\n[stages.p]\ncmd = \"echo run >> log.txt\"\nouts = [\"log.txt\"]\npersist = true\nalways_run = true\n",
        std::fs::read_to_string(env.path("gitml.toml")).unwrap()
    );
    env.write("gitml.toml", toml);
    env.write("n", "1");
    env.git_ml(&["run", "--no-record"]).success();
    // Outputs as hard links into the cache, then a stage that appends in place.
    std::fs::remove_file(env.path("out.txt")).unwrap();
    env.git_ml(&["checkout", "--link", "hardlink"]).success();
    assert!(std::fs::metadata(env.path("out.txt")).unwrap().nlink() > 1);
    env.write("n", "2");
    env.git_ml(&["run", "--no-record"]).success();
    assert_eq!(
        env.read("out.txt"),
        b"2\n",
        "the stage did not start from nothing"
    );
    let r = env.git_ml(&["verify"]);
    r.success();
    // A persisted output is kept for the command to update.
    assert_eq!(env.read("log.txt"), b"run\nrun\n");
}
