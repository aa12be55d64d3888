//! Remote faults: git-ml against a real SeaweedFS through a fault-injecting proxy
//! (`faultproxy.rs`). A transient fault is retried and the transfer completes; a permanent one
//! ends the command within a bound, with one error line that names the remote and a hint; and no
//! fault ever leaves a wrong byte in the cache or on the server. The server's side is read back
//! through SeaweedFS's filer, past both the proxy and S3.

use std::time::{Duration, Instant};

use crate::common::{BIN, Run, TestEnv, bytes};
use crate::faultproxy::{Fault, FaultProxy, Request};
use crate::seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed};

const PREFIX: &str = "team/data";
/// A hang check, not a timing test: a permanent fault must end the command well before this.
const BOUND: Duration = Duration::from_secs(60);

struct Rig {
    env: TestEnv,
    bucket: String,
    proxy: FaultProxy,
}

/// A repository whose remote `s3` is a fresh bucket on the shared server, reached through a
/// proxy of its own.
fn rig(test: &str) -> Rig {
    let server = Seaweed::shared();
    let proxy = FaultProxy::start(server.s3_port());
    let env = TestEnv::new();
    let bucket = server.bucket(test);
    let url = format!("s3://{bucket}/{PREFIX}");
    env.git_ml(&["remote", "add", "s3", &url, "--endpoint", &proxy.endpoint()])
        .success();
    Rig { env, bucket, proxy }
}

/// A request timeout short enough that a test waits out a few: 8 s (the default is 60).
const TIMEOUT: &str = "8";

fn run(env: &TestEnv, args: &[&str]) -> Run {
    run_with(env, args, Some(TIMEOUT))
}

fn run_with(env: &TestEnv, args: &[&str], timeout: Option<&str>) -> Run {
    let mut cmd = env.command(BIN, &env.root);
    if let Some(t) = timeout {
        cmd.env("GITML_REMOTE_TIMEOUT", t);
    }
    let out = cmd
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .args(args)
        .output()
        .unwrap();
    Run::from_output(out)
}

fn puts(r: &Request) -> bool {
    r.method == "PUT"
}

/// Downloads of data objects (not the probe, not listings).
fn object_gets(r: &Request) -> bool {
    r.method == "GET" && r.target.contains("/blake3/")
}

/// Every object the server holds under the remote's prefix hashes to its name; returns how many.
#[track_caller]
fn assert_remote_sound(bucket: &str) -> usize {
    let objects = Seaweed::shared().objects(bucket, &format!("{PREFIX}/blake3"));
    for (key, body) in &objects {
        // `.../blake3/ab/cdef...` names the object `abcdef...`.
        let parts: Vec<&str> = key.rsplitn(3, '/').collect();
        let name = format!("{}{}", parts[1], parts[0]);
        assert_eq!(
            blake3::hash(body).to_hex().to_string(),
            name,
            "the server holds `{key}` with bytes that are not its name's ({} bytes)",
            body.len()
        );
    }
    objects.len()
}

/// Every object in `env`'s cache is on the server, whole.
#[track_caller]
fn assert_remote_has_cache(env: &TestEnv, bucket: &str) {
    let server = Seaweed::shared();
    for obj in env.cache_objects() {
        let fan = obj.parent().unwrap().file_name().unwrap().to_string_lossy();
        let rest = obj.file_name().unwrap().to_string_lossy();
        let key = format!("{PREFIX}/blake3/{fan}/{rest}");
        let body = server
            .read(bucket, &key)
            .unwrap_or_else(|| panic!("`{key}` is not on the server"));
        assert_eq!(body, std::fs::read(&obj).unwrap(), "`{key}` differs");
    }
}

/// The command failed with exit 2 and said so once: one `error:` line naming the remote, and a
/// hint.
#[track_caller]
fn assert_one_clear_error(r: &Run, remote: &str, says: &str) {
    r.code(2);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{}", r.stderr);
    assert!(
        errors[0].contains(&format!("`{remote}`")),
        "the error names the remote:\n{}",
        r.stderr
    );
    assert!(
        errors[0].contains(says),
        "the error says `{says}`:\n{}",
        r.stderr
    );
    assert!(
        r.stderr.lines().any(|l| l.starts_with("hint: ")),
        "a hint follows:\n{}",
        r.stderr
    );
}

#[test]
fn faults_transient_faults_on_push_are_retried_and_only_whole_objects_are_stored() {
    let Rig { env, bucket, proxy } = rig("faults-push");
    let faults = [
        Fault::Drop,
        Fault::ResetMidBody,
        Fault::Truncate,
        Fault::Stall,
        Fault::Trickle {
            chunk: 8192,
            delay_ms: 2,
        },
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        let dir = format!("d{i}");
        for j in 0..6 {
            env.write(
                &format!("{dir}/{j}.bin"),
                bytes(1000 * i as u64 + j, 200_000),
            );
        }
        env.git_ml(&["add", &dir]).success();
        proxy.first(2, fault, puts);
        let push = run(&env, &["push", &dir, "--json"]);
        push.success();
        assert_eq!(proxy.faulted(), 2, "{fault:?} was applied twice");
        assert!(
            push.json()["transferred"].as_u64().unwrap() >= 8,
            "{fault:?}: {}",
            push.stdout
        );
        proxy.heal();
        assert_remote_sound(&bucket);
    }
    assert_remote_has_cache(&env, &bucket);
    // And the pushes are complete: nothing is left to send.
    let again = run(&env, &["push", "--json"]);
    again.success();
    assert_eq!(again.json()["transferred"], 0, "{}", again.stdout);
}

#[test]
fn faults_a_reset_part_of_a_multipart_upload_is_sent_again() {
    let Rig { env, bucket, proxy } = rig("faults-multipart");
    // Above the multipart threshold (64 MiB): five parts.
    let big = bytes(77, 70 * 1024 * 1024);
    env.write("model.bin", &big);
    env.git_ml(&["add", "model.bin"]).success();
    proxy.first(2, Fault::ResetMidBody, |r| {
        r.method == "PUT" && r.target.contains("partNumber=")
    });
    run(&env, &["push"]).success();
    assert_eq!(proxy.faulted(), 2);
    assert_eq!(assert_remote_sound(&bucket), 1);
    assert_remote_has_cache(&env, &bucket);
}

#[test]
fn faults_transient_faults_on_fetch_and_pull_are_retried_and_the_cache_stays_sound() {
    let Rig { env, proxy, .. } = rig("faults-fetch");
    for j in 0..12 {
        env.write(&format!("d/{j}.bin"), bytes(500 + j, 150_000));
    }
    let big = bytes(600, 3 * 1024 * 1024);
    env.write("big.bin", &big);
    env.git_ml(&["add", "d", "big.bin"]).success();
    env.commit_all("data");
    run(&env, &["push"]).success();
    let faults = [
        Fault::Drop,
        Fault::ResetMidBody,
        Fault::Truncate,
        Fault::Stall,
        Fault::Trickle {
            chunk: 4096,
            delay_ms: 1,
        },
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        let clone = env.clone_repo();
        proxy.first(3, fault, object_gets);
        // Alternate: `fetch` fills the cache only, `pull` checks out too.
        let verb = if i % 2 == 0 { "pull" } else { "fetch" };
        let started = Instant::now();
        run(&clone, &[verb]).success();
        assert!(
            started.elapsed() < BOUND,
            "{fault:?}: {:?}",
            started.elapsed()
        );
        assert_eq!(proxy.faulted(), 3, "{fault:?} was applied three times");
        proxy.heal();
        clone.assert_cache_sound();
        assert_eq!(clone.cache_objects().len(), env.cache_objects().len());
        if verb == "fetch" {
            clone.git_ml(&["checkout"]).success();
        }
        assert_eq!(clone.read("big.bin"), big, "{fault:?}");
        for j in 0..12 {
            assert_eq!(clone.read(&format!("d/{j}.bin")), bytes(500 + j, 150_000));
        }
        clone.git_ml(&["verify"]).success();
    }
}

#[test]
fn faults_a_large_object_comes_down_in_ranges_and_a_broken_range_is_fetched_again() {
    let Rig { env, proxy, .. } = rig("faults-ranged");
    // Above the ranged-download threshold (64 MiB): five 16 MiB ranges.
    let big = bytes(650, 70 * 1024 * 1024);
    env.write("model.bin", &big);
    env.git_ml(&["add", "model.bin"]).success();
    env.commit_all("model");
    run(&env, &["push"]).success();
    let clone = env.clone_repo();
    let before = proxy.requests();
    run(&clone, &["pull"]).success();
    assert!(
        proxy.requests() - before >= 5,
        "the object came down in ranges: {} requests",
        proxy.requests() - before
    );
    assert_eq!(clone.read("model.bin"), big);
    for fault in [Fault::ResetMidBody, Fault::Truncate, Fault::Drop] {
        let clone = env.clone_repo();
        // Break the first three downloads: the open response and two ranges.
        proxy.first(3, fault, object_gets);
        run(&clone, &["pull"]).success();
        assert_eq!(proxy.faulted(), 3, "{fault:?}");
        proxy.heal();
        clone.assert_cache_sound();
        assert_eq!(clone.read("model.bin"), big, "{fault:?}");
        clone.git_ml(&["verify"]).success();
    }
}

#[test]
fn faults_a_slow_upload_that_keeps_moving_completes() {
    // Slower than any single timeout of the client (a read timeout that counts from the start
    // of the request would end it), yet always moving.
    let Rig { env, bucket, proxy } = rig("faults-slow-up");
    let data = bytes(700, 1024 * 1024);
    env.write("slow.bin", &data);
    env.git_ml(&["add", "slow.bin"]).success();
    proxy.always(
        Fault::Trickle {
            chunk: 16 * 1024,
            delay_ms: 300,
        },
        puts,
    );
    // The default timeout: an upload may take a minute.
    run_with(&env, &["push"], None).success();
    assert_eq!(proxy.faulted(), 1, "one upload, never restarted");
    assert_remote_sound(&bucket);
    assert_remote_has_cache(&env, &bucket);
}

#[test]
fn faults_permanent_faults_end_the_command_with_one_clear_error() {
    let Rig { env, bucket, proxy } = rig("faults-permanent");
    for j in 0..40 {
        env.write(&format!("d/{j}.bin"), bytes(800 + j, 50_000));
    }
    env.git_ml(&["add", "d"]).success();
    env.commit_all("data");

    // Push: the server takes every connection and drops it.
    proxy.always(Fault::Drop, |_| true);
    let started = Instant::now();
    let r = run(&env, &["push"]);
    assert!(started.elapsed() < BOUND, "{:?}", started.elapsed());
    assert_one_clear_error(&r, "s3", "");
    assert!(proxy.faulted() > 0);

    // Push: only uploads stall (the server answers everything else).
    proxy.always(Fault::Stall, puts);
    let started = Instant::now();
    let r = run(&env, &["push"]);
    assert!(started.elapsed() < BOUND, "{:?}", started.elapsed());
    assert_one_clear_error(&r, "s3", "");
    assert!(proxy.faulted() > 0);
    assert_remote_sound(&bucket);

    // A healthy push, so that there is something to fetch.
    proxy.heal();
    run(&env, &["push"]).success();

    // Fetch: every download is cut off half-way.
    let clone = env.clone_repo();
    for fault in [Fault::Truncate, Fault::ResetMidBody, Fault::Stall] {
        proxy.always(fault, object_gets);
        let started = Instant::now();
        let r = run(&clone, &["pull"]);
        assert!(
            started.elapsed() < BOUND,
            "{fault:?}: {:?}",
            started.elapsed()
        );
        assert_one_clear_error(&r, "s3", "");
        assert!(proxy.faulted() > 0, "{fault:?}");
        assert!(
            clone.cache_objects().is_empty(),
            "{fault:?}: nothing partial entered the cache"
        );
        assert!(!clone.exists("d/0.bin"));
    }
    proxy.heal();
    run(&clone, &["pull"]).success();
    assert_eq!(clone.read("d/7.bin"), bytes(807, 50_000));
}

#[test]
fn faults_wrong_credentials_and_a_missing_bucket_are_one_line_each() {
    let server = Seaweed::shared();
    let env = TestEnv::new();
    let bucket = server.bucket("faults-creds");
    let url = format!("s3://{bucket}/{PREFIX}");
    env.git_ml(&[
        "remote",
        "add",
        "s3",
        &url,
        "--endpoint",
        &server.endpoint(),
    ])
    .success();
    env.write("a.bin", bytes(900, 10_000));
    env.git_ml(&["add", "a.bin"]).success();
    env.commit_all("data");
    let wrong = env
        .command(BIN, &env.root)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret-4242")
        .args(["push"])
        .output()
        .unwrap();
    let r = Run::from_output(wrong);
    assert_one_clear_error(&r, "s3", "");
    assert!(r.stderr.contains("credentials"), "{}", r.stderr);
    assert!(!r.stderr.contains("not-the-secret-4242"));
    run(&env, &["push"]).success();

    // A bucket that does not exist: push and fetch say so, once.
    let missing = format!("{bucket}-missing");
    let add_gone = |env: &TestEnv| {
        let url = format!("s3://{missing}/x");
        env.git_ml(&[
            "remote",
            "add",
            "gone",
            &url,
            "--endpoint",
            &server.endpoint(),
        ])
        .success();
    };
    add_gone(&env);
    let r = run(&env, &["push", "-r", "gone"]);
    assert_one_clear_error(&r, "gone", &missing);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    let clone = env.clone_repo();
    add_gone(&clone);
    let r = run(&clone, &["pull", "-r", "gone"]);
    assert_one_clear_error(&r, "gone", &missing);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    assert!(
        server.objects(&missing, "").is_empty(),
        "the push did not create it"
    );
}
