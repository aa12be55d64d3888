//! Killed processes and concurrent processes: no partial cache object is ever visible, no user
//! file is destroyed, and two git-ml processes at once both succeed.

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::{BIN, TestEnv, bytes};

fn spawn(env: &TestEnv, args: &[&str]) -> Child {
    env.command(BIN, &env.root)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn kill_after(mut child: Child, ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

#[test]
fn kill_during_add_leaves_no_partial_object_and_the_file_intact() {
    let env = TestEnv::new();
    let big = bytes(5, 48 * 1024 * 1024);
    env.write("big.bin", &big);
    for i in 0..40 {
        env.write(&format!("dir/{i}.bin"), bytes(100 + i, 256 * 1024));
    }
    for ms in [2, 10, 25, 50, 100, 200] {
        kill_after(spawn(&env, &["add", "big.bin", "dir"]), ms);
        env.assert_cache_sound();
        assert_eq!(
            env.read("big.bin"),
            big,
            "the working file is never modified by add"
        );
    }
    env.git_ml(&["add", "big.bin", "dir"]).success();
    env.git_ml(&["status"]).success();
    env.assert_cache_sound();
    // git-ml's own check agrees: every object it can see is intact.
    env.git_ml(&["verify"]).success();
}

#[test]
fn kill_during_checkout_leaves_each_file_old_or_new() {
    let env = TestEnv::new();
    let v1 = bytes(1, 32 * 1024 * 1024);
    let v2 = bytes(2, 32 * 1024 * 1024);
    let small_v1: Vec<Vec<u8>> = (0..60).map(|i| bytes(1000 + i, 128 * 1024)).collect();
    let small_v2: Vec<Vec<u8>> = (0..60).map(|i| bytes(2000 + i, 128 * 1024)).collect();
    env.write("big.bin", &v1);
    for (i, b) in small_v1.iter().enumerate() {
        env.write(&format!("d/{i}"), b);
    }
    env.git_ml(&["add", "big.bin", "d"]).success();
    env.commit_all("v1");
    env.write("big.bin", &v2);
    for (i, b) in small_v2.iter().enumerate() {
        env.write(&format!("d/{i}"), b);
    }
    env.git_ml(&["add", "big.bin", "d"]).success();
    env.commit_all("v2");
    env.git(&["checkout", "-q", "HEAD~1"]);
    for ms in [2, 10, 25, 50, 100] {
        kill_after(spawn(&env, &["checkout"]), ms);
        let now = env.read("big.bin");
        assert!(
            now == v1 || now == v2,
            "big.bin is a partial file after a kill at {ms} ms"
        );
        for i in 0..60 {
            if let Ok(now) = std::fs::read(env.path(&format!("d/{i}"))) {
                assert!(
                    now == small_v1[i] || now == small_v2[i],
                    "d/{i} partial after kill at {ms} ms"
                );
            }
        }
        env.assert_cache_sound();
    }
    env.git_ml(&["checkout"]).success();
    assert_eq!(env.read("big.bin"), v1);
    env.git_ml(&["status"]).success();
    // No temporary files are left in the work tree, and git sees none.
    let st = env.git(&[
        "status",
        "--porcelain",
        "--untracked-files=all",
        "--ignored",
    ]);
    assert!(!st.contains("gitml-tmp"), "{st}");
}

#[test]
fn two_adds_at_once_both_succeed() {
    for round in 0..3 {
        let env = TestEnv::new();
        for i in 0..200 {
            env.write(&format!("a/{i}"), bytes(i, 4096));
            env.write(&format!("b/{i}"), bytes(10_000 + i, 4096));
        }
        let one = spawn(&env, &["add", "a"]);
        let two = spawn(&env, &["add", "b"]);
        let same = spawn(&env, &["add", "a"]);
        for (name, child) in [("a", one), ("b", two), ("a again", same)] {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: add {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let gi = String::from_utf8(env.read(".gitignore")).unwrap();
        assert!(
            gi.lines().any(|l| l == "/a") && gi.lines().any(|l| l == "/b"),
            "both ignore lines survive: {gi}"
        );
        env.git_ml(&["status"]).success();
        env.assert_cache_sound();
    }
}

#[test]
fn a_second_process_waits_for_the_lock_and_says_for_whom() {
    let env = TestEnv::new();
    env.write("f", "x");
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(env.root.join(".git/gitml/lock"))
        .unwrap();
    lock.lock().unwrap();
    std::fs::write(
        env.root.join(".git/gitml/lock"),
        "pid 4242 (`git ml add big`)",
    )
    .unwrap();
    let mut child = spawn(&env, &["add", "f"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "add must wait while the lock is held"
    );
    lock.unlock().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("waiting for pid 4242"), "{err}");
    assert!(env.exists("f.gitml"));
}

#[test]
fn kill_during_pull_leaves_no_partial_object_and_a_rerun_completes() {
    let env = TestEnv::new();
    let store = env.base.join("store");
    std::fs::create_dir_all(&store).unwrap();
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    let big = bytes(77, 40 * 1024 * 1024);
    env.write("big.bin", &big);
    for i in 0..200 {
        env.write(&format!("d/{i}.bin"), bytes(700 + i, 64 * 1024));
    }
    env.git_ml(&["add", "big.bin", "d"]).success();
    env.commit_all("v1");
    env.git_ml(&["push"]).success();

    let clone = env.clone_repo();
    for ms in [5, 30, 80, 150] {
        let child = clone
            .command(crate::common::BIN, &clone.root)
            .args(["pull", "-j", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        kill_after(child, ms);
        clone.assert_cache_sound();
    }
    clone.git_ml(&["pull"]).success();
    assert_eq!(clone.read("big.bin"), big);
    clone.git_ml(&["status"]).success();
}

#[test]
fn a_notes_lock_left_by_a_killed_git_does_not_block_records_forever() {
    // Found by the `record` fault loop: a `git notes` killed between taking the ref's lock and
    // renaming it leaves `refs/notes/gitml.lock`, and every later record failed with "cannot
    // lock ref" until somebody deleted the file by hand.
    let env = TestEnv::new();
    env.write("x.txt", "x");
    env.commit_all("x");
    env.git_ml(&["record", "--metric", "acc=1"]).success();
    let lock = env.root.join(".git/refs/notes/gitml.lock");
    std::fs::write(&lock, "").unwrap();
    env.set_mtime(
        ".git/refs/notes/gitml.lock",
        std::time::SystemTime::now() - Duration::from_secs(60),
    );
    let r = env.git_ml(&["-v", "record", "--metric", "acc=2"]);
    r.success();
    assert!(!lock.exists());
    assert!(
        r.stderr.contains("gitml.lock"),
        "the removal is logged: {}",
        r.stderr
    );
    // A lock that its holder releases a moment later is waited for, not removed.
    std::fs::write(&lock, "").unwrap();
    let held = lock.clone();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        std::fs::remove_file(held).unwrap();
    });
    let r = env.git_ml(&["-v", "record", "--metric", "acc=3"]);
    releaser.join().unwrap();
    r.success();
    assert!(!r.stderr.contains("removed"), "{}", r.stderr);
    let runs = env.git_ml(&["show", "--json"]).json()["runs"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(runs, 3);
}
