//! Azure and GCS remotes against emulators (see `emulators.rs`): Azurite for Azure Blob Storage,
//! fake-gcs-server for GCS. The same questions as for S3: do the bytes come back identical into a
//! fresh clone, and is an object damaged on the server refused, the cache left clean?
//!
//! fake-gcs-server does not implement the XML API's object upload and delete that the GCS
//! client writes with (docs/configuration.md, "What is and is not tested"), so the GCS tests
//! place the objects on the emulator through its JSON API, in the layout git-ml writes, and test
//! everything that reads: check, fetch, pull, `status --remote`.

use crate::common::{BIN, Run, TestEnv, bytes};
use crate::emulators::{AZURE_ACCOUNT, AZURE_KEY, Azurite, FakeGcs};

const PREFIX: &str = "team/data";

/// The object's key below the remote's root.
fn key(content: &[u8]) -> String {
    crate::common::remote_key(PREFIX, content)
}

/// Run git-ml with the cloud's credentials in the environment, and every metadata service
/// pointed at a closed loopback port: a test that wrongly asked one fails at once instead of
/// reaching out.
fn run(env: &TestEnv, dir: &std::path::Path, args: &[&str]) -> Run {
    let out = env
        .command(BIN, dir)
        .env("AZURE_STORAGE_ACCOUNT_KEY", AZURE_KEY)
        .env("GCE_METADATA_HOST", "127.0.0.1:9")
        .env("GCE_METADATA_IP", "127.0.0.1:9")
        .env("IDENTITY_ENDPOINT", "http://127.0.0.1:9/token")
        .args(args)
        .output()
        .unwrap();
    Run::from_output(out)
}

fn azure_setup(test: &str) -> (TestEnv, String) {
    let azurite = Azurite::shared();
    let env = TestEnv::new();
    let container = azurite.container(test);
    env.git_ml(&[
        "remote",
        "add",
        "az",
        &format!("az://{container}/{PREFIX}"),
        "--endpoint",
        &azurite.endpoint(),
        "--account",
        AZURE_ACCOUNT,
    ])
    .success();
    (env, container)
}

#[test]
fn azure_round_trip_of_files_and_directories_into_a_fresh_clone() {
    let azurite = Azurite::shared();
    let (env, container) = azure_setup("azure-round-trip");
    // Above the multipart threshold (64 MiB): it goes up as blocks and a block list.
    let big = bytes(11, 70 * 1024 * 1024);
    env.write("model.bin", &big);
    for i in 0..50 {
        env.write(&format!("data/{i:02}.bin"), bytes(1100 + i, 8192));
    }
    env.git_ml(&["add", "model.bin", "data"]).success();
    env.commit_all("v1");
    let push = run(&env, &env.root, &["push", "--json"]);
    push.success();
    assert_eq!(
        push.json()["transferred"],
        env.cache_objects().len(),
        "{}",
        push.stdout
    );
    assert_eq!(azurite.get_blob(&container, &key(&big)), Some(big.clone()));
    // v2: one file changes; only it and the manifests it touches go up.
    env.write("data/07.bin", bytes(7777, 8192));
    env.git_ml(&["add", "data"]).success();
    env.commit_all("v2");
    let push = run(&env, &env.root, &["push", "--json"]);
    push.success();
    assert!(
        push.json()["transferred"].as_u64().unwrap() <= 4,
        "{}",
        push.stdout
    );
    run(&env, &env.root, &["status", "--remote", "az"]).success();

    let clone = env.clone_repo();
    run(&clone, &clone.root, &["pull"]).success();
    assert_eq!(clone.read("model.bin"), big);
    for i in 0..50 {
        let want = if i == 7 {
            bytes(7777, 8192)
        } else {
            bytes(1100 + i, 8192)
        };
        assert_eq!(clone.read(&format!("data/{i:02}.bin")), want);
    }
    assert!(
        !clone.object_path(&bytes(1107, 8192)).exists(),
        "only HEAD's data"
    );
    clone.assert_cache_sound();
    clone.git_ml(&["verify"]).success();
}

#[test]
fn azure_corrupted_and_truncated_objects_are_rejected_on_pull() {
    let azurite = Azurite::shared();
    let (env, container) = azure_setup("azure-corrupt");
    let (a, b, flipped) = crate::common::damage_pair(&env, 12, 3 * 1024 * 1024);
    run(&env, &env.root, &["push"]).success();
    azurite.put_blob(&container, &key(&a), &flipped);
    azurite.put_blob(&container, &key(&b), &b[..b.len() - 1]);

    let clone = env.clone_repo();
    let out = run(&clone, &clone.root, &["pull"]);
    crate::common::assert_damage_refused(&out, &clone, &a, &b);
    assert!(!clone.exists("a.bin"));
    // `push --verify` from the machine that has the data repairs the remote.
    run(&env, &env.root, &["push", "--verify"]).success();
    assert_eq!(azurite.get_blob(&container, &key(&a)), Some(a.clone()));
    run(&clone, &clone.root, &["pull"]).success();
    assert_eq!(clone.read("b.bin"), b);
}

/// A repository with data, a GCS remote on the emulator, and every cache object placed on it
/// (as a push from elsewhere would have left them).
fn gcs_setup(test: &str) -> (TestEnv, String) {
    let gcs = FakeGcs::shared();
    let env = TestEnv::new();
    let bucket = gcs.bucket(test);
    env.git_ml(&[
        "remote",
        "add",
        "gcs",
        &format!("gs://{bucket}/{PREFIX}"),
        "--endpoint",
        &gcs.endpoint(),
        "--anonymous",
    ])
    .success();
    (env, bucket)
}

fn gcs_upload_cache(env: &TestEnv, bucket: &str) {
    for obj in env.cache_objects() {
        let fan = obj.parent().unwrap().file_name().unwrap().to_string_lossy();
        let rest = obj.file_name().unwrap().to_string_lossy();
        FakeGcs::shared().put_object(
            bucket,
            &format!("{PREFIX}/blake3/{fan}/{rest}"),
            &std::fs::read(&obj).unwrap(),
        );
    }
}

#[test]
fn gcs_pull_into_a_fresh_clone_reads_back_identical_bytes() {
    let (env, bucket) = gcs_setup("gcs-round-trip");
    let big = bytes(21, 5 * 1024 * 1024);
    env.write("model.bin", &big);
    for i in 0..30 {
        env.write(&format!("data/{i:02}.bin"), bytes(2100 + i, 8192));
    }
    env.git_ml(&["add", "model.bin", "data"]).success();
    env.commit_all("v1");
    gcs_upload_cache(&env, &bucket);
    // The remote answers the same questions a push asks first: nothing is missing.
    let status = run(&env, &env.root, &["status", "--remote", "gcs", "--json"]);
    status.success();
    assert!(
        !status.stdout.contains("\"not_pushed\"") || status.json().to_string().contains("[]"),
        "{}",
        status.stdout
    );

    let clone = env.clone_repo();
    let pull = run(&clone, &clone.root, &["pull", "--json"]);
    pull.success();
    assert_eq!(pull.json()["transferred"], env.cache_objects().len());
    assert_eq!(clone.read("model.bin"), big);
    for i in 0..30 {
        assert_eq!(
            clone.read(&format!("data/{i:02}.bin")),
            bytes(2100 + i, 8192)
        );
    }
    clone.assert_cache_sound();
    clone.git_ml(&["verify"]).success();
}

#[test]
fn gcs_corrupted_and_truncated_objects_are_rejected_on_fetch() {
    let gcs = FakeGcs::shared();
    let (env, bucket) = gcs_setup("gcs-corrupt");
    let (a, b, flipped) = crate::common::damage_pair(&env, 22, 2 * 1024 * 1024);
    gcs.put_object(&bucket, &key(&a), &flipped);
    gcs.put_object(&bucket, &key(&b), &b[..b.len() - 1]);
    assert_eq!(gcs.get_object(&bucket, &key(&a)), Some(flipped));

    let clone = env.clone_repo();
    let out = run(&clone, &clone.root, &["fetch"]);
    crate::common::assert_damage_refused(&out, &clone, &a, &b);
    assert!(
        clone.cache_objects().is_empty(),
        "nothing damaged was stored"
    );
}

#[test]
fn cloud_remotes_without_credentials_are_refused_before_any_request() {
    // With no key, token or service account, the cloud clients would ask a metadata service
    // (on the cloud's link-local address) for one; git-ml refuses instead, at once, unless told
    // the machine has one. The metadata services are pointed at a closed loopback port here, so
    // a client that asked anyway fails with a connection error rather than this message.
    let env = TestEnv::new();
    env.git_ml(&[
        "remote",
        "add",
        "gcs",
        "gs://some-bucket/x",
        "--endpoint",
        "http://127.0.0.1:9",
    ])
    .success();
    env.git_ml(&[
        "remote",
        "add",
        "az",
        "az://some-container/x",
        "--endpoint",
        "http://127.0.0.1:9/acct",
        "--account",
        "acct",
    ])
    .success();
    env.write("a.bin", bytes(24, 1000));
    env.git_ml(&["add", "a.bin"]).success();
    for (remote, says) in [("gcs", "GOOGLE_"), ("az", "AZURE_")] {
        let out = env
            .command(BIN, &env.root)
            .env("GCE_METADATA_HOST", "127.0.0.1:9")
            .env("GCE_METADATA_IP", "127.0.0.1:9")
            .env("IDENTITY_ENDPOINT", "http://127.0.0.1:9/token")
            .args(["push", "-r", remote])
            .output()
            .unwrap();
        let r = Run::from_output(out);
        r.code(2);
        assert!(
            r.stderr.contains("no credentials"),
            "{remote}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(says),
            "{remote}: the hint names the variables: {}",
            r.stderr
        );
    }
}
