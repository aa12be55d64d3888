//! Remotes on a real S3-compatible server (SeaweedFS; see `seaweed.rs`). Each test has its own
//! bucket; the interrupted-push test has its own server, which it kills and restarts.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{BIN, TestEnv, bytes};
use crate::seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed};

/// A repository whose default remote is a fresh bucket on `server`.
fn setup(server: &Seaweed, test: &str) -> (TestEnv, String) {
    let env = TestEnv::new();
    let bucket = server.bucket(test);
    let url = format!("s3://{bucket}/team/data");
    env.git_ml(&[
        "remote",
        "add",
        "s3",
        &url,
        "--endpoint",
        &server.endpoint(),
    ])
    .success();
    (env, bucket)
}

/// Run git-ml with the server's credentials in the environment.
fn with_keys(env: &TestEnv, dir: &std::path::Path, args: &[&str]) -> crate::common::Run {
    let out = env
        .command(BIN, dir)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .args(args)
        .output()
        .unwrap();
    let run = crate::common::Run::from_output(out);
    assert!(!run.stdout.contains(SECRET_KEY) && !run.stderr.contains(SECRET_KEY));
    run
}

fn key(content: &[u8]) -> String {
    crate::common::remote_key("team/data", content)
}

#[test]
fn s3_round_trip_of_files_and_directories_into_a_fresh_clone() {
    let server = Seaweed::shared();
    let (env, bucket) = setup(server, "round-trip");
    // Above the multipart threshold (64 MiB), so it goes up in parts.
    let big = bytes(1, 70 * 1024 * 1024);
    env.write("model.bin", &big);
    for i in 0..200 {
        env.write(&format!("data/{i:03}.bin"), bytes(100 + i, 4096));
    }
    env.git_ml(&["add", "model.bin", "data"]).success();
    env.commit_all("v1");
    let push = with_keys(&env, &env.root, &["push", "--json"]);
    push.success();
    let all = env.cache_objects().len();
    assert!(all >= 1 + 200 + 2);
    assert_eq!(push.json()["transferred"], all, "{}", push.stdout);
    assert!(server.exists(&bucket, &key(&big)));
    // v2: one file changed in the directory.
    env.write("data/007.bin", bytes(7777, 4096));
    env.git_ml(&["add", "data"]).success();
    env.commit_all("v2");
    let push = with_keys(&env, &env.root, &["push", "--json"]);
    push.success();
    let sent = push.json()["transferred"].as_u64().unwrap();
    assert!(sent <= 4, "a one-file change sent {sent} objects");
    // Nothing left to push; a no-op push sends nothing.
    with_keys(&env, &env.root, &["status", "--remote", "s3"]).success();
    let noop = with_keys(&env, &env.root, &["push", "--json"]);
    assert_eq!(noop.json()["transferred"], 0);

    let clone = env.clone_repo();
    with_keys(&clone, &clone.root, &["pull"]).success();
    assert_eq!(clone.read("model.bin"), big);
    for i in 0..200 {
        let want = if i == 7 {
            bytes(7777, 4096)
        } else {
            bytes(100 + i, 4096)
        };
        assert_eq!(clone.read(&format!("data/{i:03}.bin")), want);
    }
    // Exactly HEAD's data: v1's version of 007 was never downloaded.
    assert!(!clone.object_path(&bytes(107, 4096)).exists());
    clone.assert_cache_sound();
    clone.git_ml(&["status"]).success();
}

#[test]
fn s3_corrupted_and_truncated_objects_are_rejected_on_pull() {
    let server = Seaweed::shared();
    let (env, bucket) = setup(server, "corrupt");
    let (a, b, flipped) = crate::common::damage_pair(&env, 2, 20 * 1024 * 1024);
    with_keys(&env, &env.root, &["push"]).success();
    server.overwrite(&bucket, &key(&a), &flipped);
    server.overwrite(&bucket, &key(&b), &b[..b.len() - 1]);

    let clone = env.clone_repo();
    let out = with_keys(&clone, &clone.root, &["pull"]);
    crate::common::assert_damage_refused(&out, &clone, &a, &b);
    assert!(
        !clone.exists("a.bin"),
        "nothing is checked out from a failed pull"
    );
}

#[test]
fn s3_wrong_credentials_fail_fast_without_printing_the_secret() {
    let server = Seaweed::shared();
    let (env, _bucket) = setup(server, "wrong-keys");
    env.write("a.bin", bytes(4, 1000));
    env.git_ml(&["add", "a.bin"]).success();
    let wrong = "wrong-secret-value-0042";
    let started = Instant::now();
    let out = env
        .command(BIN, &env.root)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", wrong)
        .args(["push", "--json"])
        .output()
        .unwrap();
    let run = crate::common::Run::from_output(out);
    run.code(2);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        !run.stderr.contains(wrong) && !run.stdout.contains(wrong),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("credentials"), "{}", run.stderr);

    // Keys in the machine-local config: used, and just as secret.
    std::fs::write(
        env.path(".git/gitml/config.toml"),
        format!(
            "[remotes.s3]\naccess_key_id = \"{ACCESS_KEY}\"\nsecret_access_key = \"{wrong}\"\n"
        ),
    )
    .unwrap();
    let run = env.git_ml(&["push", "-v"]);
    run.code(2);
    assert!(!run.stderr.contains(wrong), "{}", run.stderr);
    // No credentials anywhere: refused before any request.
    std::fs::remove_file(env.path(".git/gitml/config.toml")).unwrap();
    let run = env.git_ml(&["push"]);
    run.code(2);
    assert!(run.stderr.contains("no credentials"), "{}", run.stderr);
}

#[test]
fn s3_unreachable_endpoint_fails_fast_with_a_clear_message() {
    let env = TestEnv::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed again at once: nothing listens there
    env.git_ml(&[
        "remote",
        "add",
        "s3",
        "s3://bucket/x",
        "--endpoint",
        &format!("http://127.0.0.1:{port}"),
    ])
    .success();
    for i in 0..20 {
        env.write(&format!("d/{i}.bin"), bytes(i, 100));
    }
    env.git_ml(&["add", "d"]).success();
    let started = Instant::now();
    let run = with_keys(&env, &env.root, &["push"]);
    run.code(2);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(run.stderr.contains("server is up"), "{}", run.stderr);
    let clone_pull = with_keys(&env, &env.root, &["fetch", "--rev", "HEAD"]);
    assert_ne!(clone_pull.code, 0);
}

#[test]
fn s3_two_pushes_of_the_same_data_at_once() {
    let server = Seaweed::shared();
    let (env, _bucket) = setup(server, "concurrent");
    for i in 0..60 {
        env.write(&format!("d/{i}.bin"), bytes(300 + i, 50_000));
    }
    env.git_ml(&["add", "d"]).success();
    env.commit_all("v1");
    let spawn = || {
        env.command(BIN, &env.root)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .args(["push", "-j", "8"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for c in [a, b] {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let clone = env.clone_repo();
    with_keys(&clone, &clone.root, &["pull"]).success();
    for i in 0..60 {
        assert_eq!(clone.read(&format!("d/{i}.bin")), bytes(300 + i, 50_000));
    }
}

#[test]
fn s3_gc_keeps_everything_reachable() {
    let server = Seaweed::shared();
    let (env, bucket) = setup(server, "gc");
    env.write("d/a.bin", bytes(20, 10_000));
    env.write("d/b.bin", bytes(21, 10_000));
    env.git_ml(&["add", "d"]).success();
    env.commit_all("v1");
    with_keys(&env, &env.root, &["push"]).success();
    env.write("d/b.bin", bytes(22, 10_000));
    env.git_ml(&["add", "d"]).success();
    env.commit_all("v2");
    with_keys(&env, &env.root, &["push"]).success();
    env.write("tmp.bin", bytes(23, 10_000));
    env.git_ml(&["add", "tmp.bin"]).success();
    with_keys(&env, &env.root, &["push", "tmp.bin"]).success();
    env.git_ml(&["rm", "--delete", "tmp.bin"]).success();

    // Forget the manifests locally: gc must read them from the remote, not give up or guess.
    std::fs::remove_dir_all(env.cache_dir()).unwrap();
    let dry = with_keys(
        &env,
        &env.root,
        &["-c", "gc.grace=0", "gc", "-r", "s3", "--json"],
    );
    dry.success();
    assert_eq!(dry.json()["objects"], 1, "{}", dry.stdout);
    assert!(server.exists(&bucket, &key(&bytes(23, 10_000))));
    with_keys(
        &env,
        &env.root,
        &["-c", "gc.grace=0", "gc", "-r", "s3", "--force"],
    )
    .success();
    assert!(!server.exists(&bucket, &key(&bytes(23, 10_000))));
    assert!(
        server.exists(&bucket, &key(&bytes(21, 10_000))),
        "v1 data is kept"
    );

    let clone = env.clone_repo();
    with_keys(&clone, &clone.root, &["pull"]).success();
    clone.git(&["checkout", "-q", "HEAD~1"]);
    with_keys(&clone, &clone.root, &["pull"]).success();
    assert_eq!(clone.read("d/b.bin"), bytes(21, 10_000));
}

#[test]
fn s3_interrupted_push_resumes_without_resending_completed_objects() {
    let mut server = Seaweed::start();
    let (env, _bucket) = setup(&server, "resume");
    let n = 150;
    for i in 0..n {
        env.write(&format!("d/{i:03}.bin"), bytes(1000 + i, 1024 * 1024));
    }
    env.git_ml(&["add", "d"]).success();
    env.commit_all("v1");
    let child = env
        .command(BIN, &env.root)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .args(["push", "-j", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let some objects complete, then kill the server under the transfer.
    std::thread::sleep(Duration::from_millis(1500));
    server.kill();
    let killed_at = Instant::now();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the push finished before the server was killed; make the data larger\n{stderr}"
    );
    assert!(
        killed_at.elapsed() < Duration::from_secs(30),
        "a dead server must not stall the push: {:?}",
        killed_at.elapsed()
    );
    assert!(stderr.contains("failed"), "{stderr}");

    server.restart();
    let resumed = with_keys(&env, &env.root, &["push", "--json"]);
    resumed.success();
    let r = resumed.json();
    let sent = r["transferred"].as_u64().unwrap();
    let skipped = r["skipped"].as_u64().unwrap();
    assert!(skipped > 0, "completed objects were sent again: {r}");
    assert_eq!(sent + skipped, env.cache_objects().len() as u64, "{r}");

    let clone = env.clone_repo();
    with_keys(&clone, &clone.root, &["pull"]).success();
    for i in [0, n / 2, n - 1] {
        assert_eq!(
            clone.read(&format!("d/{i:03}.bin")),
            bytes(1000 + i, 1024 * 1024)
        );
    }
    clone.assert_cache_sound();
}
