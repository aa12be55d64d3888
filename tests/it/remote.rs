//! Remotes that need no server: a directory (as on a local disk or NFS), and the same directory
//! served read-only over HTTP by Python's `http.server`. Also the remote settings themselves.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::{TestEnv, b3, bytes};

/// A repository with a remote directory `store` (the default remote), a file and a directory.
fn setup() -> (TestEnv, PathBuf) {
    let env = TestEnv::new();
    let store = env.base.join("store");
    std::fs::create_dir_all(&store).unwrap();
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    env.write("model.bin", bytes(1, 3 * 1024 * 1024));
    for i in 0..30 {
        env.write(&format!("data/part-{i:02}.bin"), bytes(10 + i, 20_000));
    }
    env.write("data/nested/readme.txt", "hello");
    env.git_ml(&["add", "model.bin", "data"]).success();
    env.commit_all("data v1");
    (env, store)
}

fn read_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walk(root) {
        out.push((
            e.strip_prefix(root).unwrap().display().to_string(),
            std::fs::read(&e).unwrap(),
        ));
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn a_fresh_clone_pulls_exactly_what_head_points_to() {
    let (env, store) = setup();
    env.git_ml(&["push"]).success();
    // A second version: one file changed, one added, and a file nobody commits.
    env.write("data/part-03.bin", bytes(99, 20_000));
    env.write("data/new.bin", bytes(98, 5_000));
    env.git_ml(&["add", "data"]).success();
    env.commit_all("data v2");
    let pushed = env.git_ml(&["push", "--json"]).success().json();
    // Two new files, the changed chunk(s) and the root; nothing of v1 again.
    let sent = pushed["transferred"].as_u64().unwrap();
    assert!(
        (3..=5).contains(&sent),
        "v2 push sent {sent} objects: {pushed}"
    );

    let clone = env.clone_repo();
    let out = clone.git_ml(&["pull"]);
    out.success();
    assert_eq!(read_tree(&clone.path("data")), read_tree(&env.path("data")));
    assert_eq!(clone.read("model.bin"), env.read("model.bin"));
    // Exactly HEAD's objects: v1's old part-03 was not fetched.
    assert!(!clone.object_path(&bytes(13, 20_000)).exists());
    clone.assert_cache_sound();
    clone.git_ml(&["status"]).success();
    assert!(TestEnv::objects_under(&store).len() >= clone.cache_objects().len());
}

#[test]
fn push_then_status_remote_then_noop_push() {
    let (env, _store) = setup();
    let st = env.git_ml(&["status", "--remote", "store", "--json"]);
    st.code(1);
    assert_eq!(st.json()["pushed"], false);
    env.git_ml(&["push"]).success();
    let st = env.git_ml(&["status", "--remote", "store", "--json"]);
    st.success();
    assert_eq!(st.json()["pushed"], true);
    let again = env.git_ml(&["push", "--json"]).success().json();
    assert_eq!(again["transferred"], 0, "{again}");
}

#[test]
fn a_corrupted_or_truncated_object_on_the_remote_is_rejected_and_named() {
    let (env, store) = setup();
    env.git_ml(&["push"]).success();
    let model = env.read("model.bin");
    let small = env.read("data/part-05.bin");
    let corrupt = |content: &[u8], with: &[u8]| {
        let h = blake3::hash(content).to_hex().to_string();
        let p = store.join("blake3").join(&h[..2]).join(&h[2..]);
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, with).unwrap();
    };
    // A truncated large object and a bit-flipped small one.
    corrupt(&model, &model[..model.len() / 2]);
    let mut flipped = small.clone();
    flipped[100] ^= 1;
    corrupt(&small, &flipped);

    let clone = env.clone_repo();
    let out = clone.git_ml(&["pull"]);
    out.code(2);
    assert!(out.stderr.contains(&b3(&model)), "{}", out.stderr);
    assert!(out.stderr.contains(&b3(&small)), "{}", out.stderr);
    assert!(out.stderr.contains("corrupted"), "{}", out.stderr);
    assert!(out.stderr.contains("`model.bin`"), "{}", out.stderr);
    // Neither bad object entered the cache; nothing was checked out.
    assert!(!clone.object_path(&model).exists());
    assert!(!clone.object_path(&small).exists());
    clone.assert_cache_sound();
    assert!(!clone.exists("model.bin"));
    // Pushing again from a good copy repairs nothing by itself (the names exist)...
    // but the remote's damage is reported, not hidden, by `fetch` as well.
    clone.git_ml(&["fetch"]).code(2);
}

#[test]
fn an_object_missing_from_the_remote_is_named_with_its_path() {
    let (env, _store) = setup();
    // Never pushed.
    let clone = env.clone_repo();
    let out = clone.git_ml(&["pull", "model.bin"]);
    out.code(2);
    assert!(out.stderr.contains("`model.bin`"), "{}", out.stderr);
    assert!(out.stderr.contains("git ml push"), "{}", out.stderr);
}

#[test]
fn push_of_revisions_and_all_branches() {
    let (env, store) = setup();
    let v1_part = env.read("data/part-00.bin");
    env.write("data/part-00.bin", bytes(500, 1000));
    env.git_ml(&["add", "data"]).success();
    env.commit_all("v2");
    // Only the previous commit: v1's part-00 goes up, v2's does not.
    env.git_ml(&["push", "--rev", "HEAD~1"]).success();
    let has = |content: &[u8]| {
        let h = blake3::hash(content).to_hex().to_string();
        store.join("blake3").join(&h[..2]).join(&h[2..]).exists()
    };
    assert!(has(&v1_part));
    assert!(!has(&bytes(500, 1000)));
    env.git_ml(&["push", "--all-branches"]).success();
    assert!(has(&bytes(500, 1000)));
    let bad = env.git_ml(&["push", "--rev", "no-such-branch"]);
    bad.code(2);
    assert!(bad.stderr.contains("no-such-branch"), "{}", bad.stderr);
}

#[test]
fn gc_keeps_everything_reachable_and_removes_only_garbage() {
    let (env, store) = setup();
    let v1_part = env.read("data/part-07.bin");
    env.git_ml(&["push"]).success();
    env.git(&["tag", "v1"]);
    // v2 on main changes a file; an experiment is pushed but never committed.
    env.write("data/part-07.bin", bytes(700, 20_000));
    env.git_ml(&["add", "data"]).success();
    env.commit_all("v2");
    env.git_ml(&["push"]).success();
    env.write("scratch.bin", bytes(701, 50_000));
    env.git_ml(&["add", "scratch.bin"]).success();
    env.git_ml(&["push", "scratch.bin"]).success();
    env.git_ml(&["rm", "--delete", "scratch.bin"]).success();
    let before = TestEnv::objects_under(&store).len();

    // Within the grace period nothing goes.
    let dry = env
        .git_ml(&["gc", "-r", "store", "--json"])
        .success()
        .json();
    assert_eq!(dry["objects"], 0, "{dry}");
    // With no grace: only the experiment is garbage; the dry run removes nothing.
    let dry = env
        .git_ml(&["-c", "gc.grace=0", "gc", "-r", "store", "--json"])
        .success()
        .json();
    assert_eq!(dry["objects"], 1, "{dry}");
    assert_eq!(TestEnv::objects_under(&store).len(), before);
    // Keep only the tip of each branch: v1 is still kept by its tag.
    env.git_ml(&[
        "-c",
        "gc.grace=0",
        "-c",
        "gc.keep_commits=1",
        "gc",
        "-r",
        "store",
        "--force",
    ])
    .success();
    assert_eq!(TestEnv::objects_under(&store).len(), before - 1);

    // Both versions still pull in fresh clones.
    let clone = env.clone_repo();
    clone.git_ml(&["pull"]).success();
    assert_eq!(clone.read("data/part-07.bin"), bytes(700, 20_000));
    clone.git(&["checkout", "-q", "v1"]);
    clone.git_ml(&["pull"]).success();
    assert_eq!(clone.read("data/part-07.bin"), v1_part);

    // Local cache gc: the experiment (no longer referenced) goes, the rest stays.
    let obj = env.object_path(&bytes(701, 50_000));
    assert!(obj.exists());
    env.git_ml(&["-c", "gc.grace=0", "gc", "--force"]).success();
    assert!(!obj.exists());
    env.git_ml(&["status"]).success();
    env.git(&["checkout", "-q", "v1"]);
    env.git_ml(&["checkout"]).success();
    assert_eq!(env.read("data/part-07.bin"), v1_part);
}

#[test]
fn two_pushes_of_the_same_data_at_once_both_succeed() {
    let (env, store) = setup();
    let spawn = || {
        env.command(crate::common::BIN, &env.root)
            .args(["push", "-j", "4"])
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
    for obj in TestEnv::objects_under(&store) {
        let name = format!(
            "{}{}",
            obj.parent().unwrap().file_name().unwrap().to_string_lossy(),
            obj.file_name().unwrap().to_string_lossy()
        );
        assert_eq!(
            blake3::hash(&std::fs::read(&obj).unwrap())
                .to_hex()
                .to_string(),
            name
        );
    }
    let clone = env.clone_repo();
    clone.git_ml(&["pull"]).success();
}

#[test]
fn a_missing_remote_directory_is_created_by_the_first_push_only() {
    let env = TestEnv::new();
    env.write("a.bin", bytes(1, 100));
    env.git_ml(&["add", "a.bin"]).success();
    let gone = env.base.join("not-there");
    env.git_ml(&["remote", "add", "gone", gone.to_str().unwrap()])
        .success();
    // Reading never creates it.
    env.git_ml(&["fetch", "--no-notes"]).success();
    assert!(!gone.exists(), "fetch created the remote directory");
    // A first push creates it, as DVC and rclone do, and says so.
    let r = env.git_ml(&["push", "--no-notes"]);
    r.success();
    assert!(r.stderr.contains("created the directory"), "{}", r.stderr);
    assert!(gone.is_dir());
    assert_eq!(TestEnv::objects_under(&gone).len(), 1);
}

/// Python's `http.server` serving `dir` on a free port.
struct HttpServer(Child, u16);

impl HttpServer {
    fn start(dir: &Path) -> HttpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let server = HttpServer(child, port);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("http.server did not start");
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_http_remote_serves_pulls_and_refuses_pushes() {
    let (env, store) = setup();
    env.git_ml(&["push"]).success();
    let server = HttpServer::start(&store);
    let url = format!("http://127.0.0.1:{}/", server.1);
    env.git_ml(&["remote", "add", "web", &url]).success();
    env.commit_all("web remote");
    let clone = env.clone_repo();
    clone.git_ml(&["pull", "-r", "web"]).success();
    assert_eq!(read_tree(&clone.path("data")), read_tree(&env.path("data")));
    clone.assert_cache_sound();
    let push = clone.git_ml(&["push", "-r", "web"]);
    push.code(2);
    assert!(push.stderr.contains("read-only"), "{}", push.stderr);
}

#[test]
fn remote_settings_add_list_default_remove() {
    let env = TestEnv::new();
    std::fs::write(
        env.path("gitml.toml"),
        "# team settings\n[cache]\nlink = [\"copy\"] # keep\n",
    )
    .unwrap();
    env.git_ml(&["remote", "add", "a", "/tmp/a"]).success();
    env.git_ml(&[
        "remote",
        "add",
        "b",
        "s3://bucket/prefix",
        "--endpoint",
        "http://127.0.0.1:9",
    ])
    .success();
    let text = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    assert!(
        text.contains("# team settings") && text.contains("# keep"),
        "{text}"
    );
    let list = env.git_ml(&["remote", "list", "--json"]).success().json();
    assert_eq!(list[0]["name"], "a");
    assert_eq!(
        list[0]["default"], true,
        "the first remote becomes the default"
    );
    assert_eq!(list[1]["kind"], "s3");
    env.git_ml(&["remote", "default", "b"]).success();
    let list = env.git_ml(&["remote", "list", "--json"]).success().json();
    assert_eq!(list[1]["default"], true);
    env.git_ml(&["remote", "add", "a", "/tmp/other"]).code(2);
    env.git_ml(&["remote", "add", "c", "ftp://x/y"]).code(2);
    env.git_ml(&["remote", "remove", "b"]).success();
    let list = env.git_ml(&["remote", "list", "--json"]).success().json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let out = env.git_ml(&["push", "-r", "b"]);
    out.code(2);
    assert!(out.stderr.contains("no remote named `b`"), "{}", out.stderr);
    assert!(out.stderr.contains("known remotes: a"), "{}", out.stderr);
}

#[test]
fn a_secret_in_the_project_file_is_refused_without_echoing_it() {
    let env = TestEnv::new();
    std::fs::write(
        env.path("gitml.toml"),
        "[remotes.s3]\nurl = \"s3://b\"\nsecret_access_key = \"do-not-print-me-123\"\n",
    )
    .unwrap();
    let out = env.git_ml(&["push"]);
    out.code(2);
    assert!(out.stderr.contains("gitml.toml"), "{}", out.stderr);
    assert!(out.stderr.contains("secret_access_key"), "{}", out.stderr);
    assert!(!out.stderr.contains("do-not-print-me"), "{}", out.stderr);
    // The same key in the machine-local config is accepted and never shown.
    std::fs::write(env.path("gitml.toml"), "[remotes.s3]\nurl = \"s3://b\"\n").unwrap();
    std::fs::write(
        env.path(".git/gitml/config.toml"),
        "[remotes.s3]\naccess_key_id = \"AKIAEXAMPLE\"\nsecret_access_key = \"do-not-print-me-123\"\n",
    )
    .unwrap();
    let list = env.git_ml(&["remote", "list", "--json"]);
    list.success();
    assert!(!list.stdout.contains("do-not-print-me"), "{}", list.stdout);
}

#[test]
fn same_file_system_remotes_share_inodes_unless_the_work_tree_may_link_to_the_cache() {
    use std::os::unix::fs::MetadataExt;
    let (env, store) = setup();
    env.git_ml(&["push"]).success();
    let model = env.read("model.bin");
    let h = blake3::hash(&model).to_hex().to_string();
    let in_store = store.join("blake3").join(&h[..2]).join(&h[2..]);
    let in_cache = env.object_path(&model);
    assert_eq!(
        std::fs::metadata(&in_store).unwrap().ino(),
        std::fs::metadata(&in_cache).unwrap().ino(),
        "push hard-links on one file system"
    );
    // Pulling into a clone links the other way, after verifying the linked bytes.
    let clone = env.clone_repo();
    clone.git_ml(&["pull"]).success();
    assert_eq!(
        std::fs::metadata(clone.object_path(&model)).unwrap().ino(),
        std::fs::metadata(&in_store).unwrap().ino()
    );
    assert_eq!(clone.read("model.bin"), model);
    // The work tree got a copy, never the shared inode.
    assert_ne!(
        std::fs::metadata(clone.path("model.bin")).unwrap().ino(),
        std::fs::metadata(&in_store).unwrap().ino()
    );
    // With hard links allowed in the work tree, the remote gets copies.
    let other = env.base.join("store2");
    std::fs::create_dir_all(&other).unwrap();
    env.git_ml(&["remote", "add", "other", other.to_str().unwrap()])
        .success();
    env.git_ml(&["-c", "cache.link=hardlink,copy", "push", "-r", "other"])
        .success();
    let copy = other.join("blake3").join(&h[..2]).join(&h[2..]);
    assert_ne!(
        std::fs::metadata(&copy).unwrap().ino(),
        std::fs::metadata(&in_cache).unwrap().ino()
    );
}

#[test]
fn gc_names_every_directory_it_cannot_read_and_can_go_on_without_them() {
    let (env, _store) = setup();
    // Two commits whose directories were never pushed, and whose manifests this clone lacks.
    let clone = env.clone_repo();
    let r = clone.git_ml(&["-c", "gc.grace=0", "gc", "--force"]);
    r.code(2);
    assert!(r.stderr.contains("`data`"), "{}", r.stderr);
    assert!(r.stderr.contains("--skip-unreadable"), "{}", r.stderr);
    let r = clone.git_ml(&[
        "-c",
        "gc.grace=0",
        "gc",
        "--force",
        "--skip-unreadable",
        "--json",
    ]);
    r.success();
    assert_eq!(
        r.json()["unreadable"].as_array().unwrap().len(),
        1,
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("warning: skipped `data`"), "{}", r.stderr);
}
