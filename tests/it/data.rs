//! Tracking data: add, status, checkout, rm, ls, verify on real repositories.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::common::{TestEnv, b3, bytes};

#[test]
fn init_is_idempotent_and_sets_notes_rewrite() {
    let env = TestEnv::bare_repo();
    let first = env.git_ml(&["init", "--json"]);
    first.success();
    let created = first.json()["created"].as_array().unwrap().len();
    assert!(
        created >= 3,
        "first init should create things: {}",
        first.stdout
    );
    assert!(env.path("gitml.toml").is_file());
    env.git_ml(&["init", "--json"]).success();
    let again = env.git_ml(&["init", "--json"]);
    assert_eq!(
        again.json()["created"].as_array().unwrap().len(),
        0,
        "{}",
        again.stdout
    );
    let refs = env.git(&["config", "--get-all", "notes.rewriteRef"]);
    assert_eq!(refs.trim(), "refs/notes/gitml");
    // From a subdirectory it still initialises the root.
    std::fs::create_dir_all(env.path("sub")).unwrap();
    env.git_ml_in(&env.path("sub"), &["init"]).success();
    assert!(!env.path("sub/gitml.toml").exists());
}

#[test]
fn commands_need_init_and_a_repo() {
    let env = TestEnv::bare_repo();
    env.write("f", "x");
    let r = env.git_ml(&["add", "f"]);
    r.code(2);
    assert!(
        r.stderr.contains("not initialised") && r.stderr.contains("hint: run `git ml init`"),
        "{}",
        r.stderr
    );
    let outside = env.base.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let r = env.git_ml_in(&outside, &["status"]);
    r.code(2);
    assert!(
        r.stderr.contains("not inside a git repository"),
        "{}",
        r.stderr
    );
}

#[test]
fn add_file_and_directory_writes_pointers_ignores_and_read_only_objects() {
    let env = TestEnv::new();
    env.write("data/train/a.bin", bytes(1, 5000));
    env.write("data/train/b.bin", bytes(2, 7000));
    env.write("data/test/c.bin", bytes(3, 100));
    env.write("model.pkl", bytes(4, 3000));
    let r = env.git_ml(&["add", "data", "model.pkl", "--json"]);
    r.success();
    let j = r.json();
    assert_eq!(j["added"][0]["path"], "data");
    assert_eq!(j["added"][0]["type"], "dir");
    assert_eq!(j["added"][0]["files"], 3);
    assert_eq!(j["added"][0]["size"], 12100);
    assert_eq!(j["added"][1]["oid"], b3(&bytes(4, 3000)));
    assert_eq!(j["hashed_files"], 4);

    let ptr = String::from_utf8(env.read("model.pkl.gitml")).unwrap();
    assert!(
        ptr.contains(&format!("oid = \"{}\"", b3(&bytes(4, 3000)))),
        "{ptr}"
    );
    assert!(
        ptr.contains("type = \"file\"") && ptr.contains("size = 3000"),
        "{ptr}"
    );
    let gitignore = String::from_utf8(env.read(".gitignore")).unwrap();
    assert!(
        gitignore.lines().any(|l| l == "/data") && gitignore.lines().any(|l| l == "/model.pkl"),
        "{gitignore}"
    );
    // git sees the pointers, not the data.
    let st = env.git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(
        st.contains("data.gitml") && !st.contains("data/train"),
        "{st}"
    );

    // Every object is read-only and hashes to its name; the working copy is untouched and writable.
    let objects = env.cache_objects();
    assert!(
        objects.len() >= 4 + 2,
        "files plus manifest root and chunk: {objects:?}"
    );
    for o in &objects {
        assert_eq!(
            std::fs::metadata(o).unwrap().permissions().mode() & 0o222,
            0,
            "{} writable",
            o.display()
        );
    }
    env.assert_cache_sound();
    assert_eq!(env.read("data/train/a.bin"), bytes(1, 5000));
    assert_ne!(
        std::fs::metadata(env.path("model.pkl"))
            .unwrap()
            .permissions()
            .mode()
            & 0o200,
        0
    );

    env.git_ml(&["status"]).success();
}

#[test]
fn readding_unchanged_data_hashes_nothing_and_a_local_change_rewrites_little() {
    let env = TestEnv::new();
    for i in 0..1500 {
        env.write(&format!("data/d{}/f{i}.bin", i % 10), bytes(i, 200));
    }
    let first = env.git_ml(&["add", "data", "--json"]);
    assert_eq!(first.success().json()["hashed_files"], 1500);
    let again = env.git_ml(&["add", "data", "--json"]);
    assert_eq!(
        again.success().json()["hashed_files"],
        0,
        "re-add must not hash"
    );
    assert_eq!(again.json()["added"][0]["changed"], false);

    let before = env.cache_objects();
    env.write("data/d3/f3.bin", bytes(99_999, 200));
    let third = env.git_ml(&["add", "data", "--json"]);
    assert_eq!(
        third.success().json()["hashed_files"],
        1,
        "only the changed file is read"
    );
    let after = env.cache_objects();
    let new: Vec<_> = after.iter().filter(|o| !before.contains(o)).collect();
    // The new file, one rewritten manifest chunk, and the new manifest root.
    assert_eq!(new.len(), 3, "new objects: {new:?}");
    let manifest_bytes: u64 = new
        .iter()
        .map(|o| std::fs::metadata(o).unwrap().len())
        .sum::<u64>()
        - 200;
    let all_manifest: u64 = before
        .iter()
        .map(|o| std::fs::metadata(o).unwrap().len())
        .sum::<u64>()
        - 1500 * 200;
    assert!(
        manifest_bytes * 2 < all_manifest,
        "rewrote {manifest_bytes} of {all_manifest} manifest bytes"
    );
}

#[test]
fn status_reports_modified_added_deleted_missing_and_uncached() {
    let env = TestEnv::new();
    env.write("data/a", "a");
    env.write("data/b", "b");
    env.write("data/sub/c", "c");
    env.write("single", "s");
    env.git_ml(&["add", "data", "single"]).success();
    env.git_ml(&["status"]).success();

    env.write("data/a", "changed");
    std::fs::remove_file(env.path("data/b")).unwrap();
    env.write("data/sub/new", "n");
    std::fs::remove_file(env.path("single")).unwrap();
    let r = env.git_ml(&["status", "--json"]);
    r.code(1);
    let j = r.json();
    assert_eq!(j["clean"], false);
    let data = &j["paths"][0];
    assert_eq!(data["state"], "modified");
    assert_eq!(data["changes"]["modified"], serde_json::json!(["data/a"]));
    assert_eq!(data["changes"]["deleted"], serde_json::json!(["data/b"]));
    assert_eq!(
        data["changes"]["added"],
        serde_json::json!(["data/sub/new"])
    );
    assert_eq!(j["paths"][1]["state"], "missing");
    let text = env.git_ml(&["status"]);
    assert!(
        text.stdout.contains("modified  data/a") && text.stdout.contains("missing"),
        "{}",
        text.stdout
    );

    // Deleting a cache object shows up as "not in cache".
    env.git_ml(&["checkout", "--force"]).success();
    env.git_ml(&["status"]).success();
    let obj = env
        .cache_dir()
        .join(format!("blake3/{}", &blake3::hash(b"s").to_hex()[..2]));
    std::fs::remove_dir_all(obj).unwrap();
    let r = env.git_ml(&["status", "--json", "single"]);
    r.code(1);
    assert_eq!(r.json()["paths"][0]["cache"], "missing");
    assert_eq!(r.json()["paths"][0]["state"], "unchanged");
}

#[test]
fn quick_start_data_follows_git_checkout() {
    let env = TestEnv::new();
    env.write("data/train.csv", "v1\n");
    env.write("data/extra.csv", "only in v1\n");
    env.write("model.bin", "m1");
    env.git_ml(&["add", "data", "model.bin"]).success();
    env.commit_all("v1");
    env.write("data/train.csv", "v2 longer\n");
    std::fs::remove_file(env.path("data/extra.csv")).unwrap();
    env.write("data/new/deep.csv", "new in v2");
    env.write("model.bin", "m2");
    env.git_ml(&["status"]).code(1);
    env.git_ml(&["add", "data", "model.bin"]).success();
    env.commit_all("v2");

    env.git(&["checkout", "-q", "HEAD~1"]);
    env.git_ml(&["status"]).code(1);
    let r = env.git_ml(&["checkout", "--json"]);
    r.success();
    assert_eq!(r.json()["link_modes"]["copy"], 3, "{}", r.stdout);
    assert_eq!(env.read("data/train.csv"), b"v1\n");
    assert_eq!(env.read("data/extra.csv"), b"only in v1\n");
    assert!(
        !env.exists("data/new"),
        "directories emptied by the checkout are removed"
    );
    assert_eq!(env.read("model.bin"), b"m1");
    env.git_ml(&["status"]).success();

    env.git(&["checkout", "-q", "main"]);
    env.git_ml(&["checkout"]).success();
    assert_eq!(env.read("data/new/deep.csv"), b"new in v2");
    assert!(!env.exists("data/extra.csv"));
    env.git_ml(&["status"]).success();
    // A second checkout has nothing to do.
    let r = env.git_ml(&["checkout", "--json"]);
    assert!(
        r.success().json()["paths"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["action"] == "up-to-date"),
        "{}",
        r.stdout
    );
}

#[test]
fn checkout_never_overwrites_changes_that_are_not_in_the_cache() {
    let env = TestEnv::new();
    env.write("data/a", "original");
    env.write("f", "original f");
    env.git_ml(&["add", "data", "f"]).success();
    env.write("data/a", "precious edit");
    env.write("data/untracked-new", "precious new file");
    env.write("f", "precious f");
    let r = env.git_ml(&["checkout"]);
    r.code(2);
    assert!(
        r.stderr.contains("data/a")
            && r.stderr.contains("data/untracked-new")
            && r.stderr.contains("f"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(
        env.read("data/a"),
        b"precious edit",
        "nothing is touched when refusing"
    );
    assert_eq!(env.read("f"), b"precious f");

    // A modification whose content *is* in the cache (an older version) may be replaced.
    env.write("f", "original f");
    env.git_ml(&["add", "f"]).success();
    env.write("f", "second");
    env.git_ml(&["add", "f"]).success();
    env.write("f", "original f");
    env.git_ml(&["checkout", "f"]).success();
    assert_eq!(env.read("f"), b"second");

    env.git_ml(&["checkout", "--force"]).success();
    assert_eq!(env.read("data/a"), b"original");
    assert!(!env.exists("data/untracked-new"));
}

#[test]
fn link_modes_hardlink_and_symlink() {
    let env = TestEnv::new();
    env.write("data/x", bytes(7, 1000));
    env.write("data/y", bytes(8, 1000));
    env.git_ml(&["add", "data"]).success();
    std::fs::remove_dir_all(env.path("data")).unwrap();

    let r = env.git_ml(&["checkout", "--link", "hardlink", "--json"]);
    assert_eq!(
        r.success().json()["link_modes"]["hardlink"],
        2,
        "{}",
        r.stdout
    );
    let m = std::fs::metadata(env.path("data/x")).unwrap();
    assert!(
        m.nlink() >= 2 && m.permissions().mode() & 0o222 == 0,
        "hardlinks share the read-only object"
    );
    env.git_ml(&["status"]).success();

    std::fs::remove_dir_all(env.path("data")).unwrap();
    let r = env.git_ml(&["checkout", "--link", "symlink", "--json"]);
    assert_eq!(
        r.success().json()["link_modes"]["symlink"],
        2,
        "{}",
        r.stdout
    );
    let target = std::fs::read_link(env.path("data/x")).unwrap();
    assert!(target.starts_with(env.cache_dir()), "{}", target.display());
    assert_eq!(env.read("data/x"), bytes(7, 1000));
    env.git_ml(&["status"]).success();
    // Re-adding a symlinked tree records the same content.
    let r = env.git_ml(&["add", "data", "--json"]);
    assert_eq!(r.success().json()["added"][0]["changed"], false);

    // Back to copies, which the user may edit.
    env.git_ml(&["checkout", "--link", "copy", "--force"])
        .success();
    assert!(
        !std::fs::symlink_metadata(env.path("data/x"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    env.git_ml(&["status"]).success();
}

#[test]
fn edge_cases_empty_files_dirs_unicode_spaces_exec_bits_symlinks() {
    let env = TestEnv::new();
    env.write("d/empty.txt", "");
    std::fs::create_dir_all(env.path("d/empty dir/nested")).unwrap();
    env.write("d/ünï cødé/with space.csv", "1,2\n");
    env.write("d/run.sh", "#!/bin/sh\necho hi\n");
    std::fs::set_permissions(env.path("d/run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("run.sh", env.path("d/link-to-run")).unwrap();
    env.write("top exec", "x");
    std::fs::set_permissions(env.path("top exec"), std::fs::Permissions::from_mode(0o755)).unwrap();
    env.write("[weird]*name#", "glob chars");
    env.git_ml(&["add", "d", "top exec", "[weird]*name#"])
        .success();
    // git must ignore exactly the names we added, despite glob characters.
    let st = env.git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(
        !st.lines()
            .any(|l| l.ends_with("[weird]*name#\"") || l.ends_with("[weird]*name#")),
        "{st}"
    );
    env.commit_all("edge");
    std::fs::remove_dir_all(env.path("d")).unwrap();
    std::fs::remove_file(env.path("top exec")).unwrap();
    env.git_ml(&["checkout"]).success();
    assert_eq!(env.read("d/empty.txt"), b"");
    assert!(env.path("d/empty dir/nested").is_dir());
    assert_eq!(env.read("d/ünï cødé/with space.csv"), b"1,2\n");
    assert_ne!(
        std::fs::metadata(env.path("d/run.sh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o111,
        0
    );
    assert_eq!(
        std::fs::read_link(env.path("d/link-to-run"))
            .unwrap()
            .to_str(),
        Some("run.sh")
    );
    assert_ne!(
        std::fs::metadata(env.path("top exec"))
            .unwrap()
            .permissions()
            .mode()
            & 0o111,
        0
    );
    env.git_ml(&["status"]).success();
    // Flipping the executable bit alone is a change.
    std::fs::set_permissions(env.path("d/run.sh"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = env.git_ml(&["status", "--json"]);
    r.code(1);
    let paths = r.json()["paths"].as_array().unwrap().clone();
    let d = paths.iter().find(|p| p["path"] == "d").unwrap();
    assert_eq!(d["changes"]["modified"], serde_json::json!(["d/run.sh"]));
    env.git_ml(&["checkout"]).success();
    assert_ne!(
        std::fs::metadata(env.path("d/run.sh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o111,
        0
    );
}

#[test]
fn racy_file_modified_in_the_same_tick_is_rehashed() {
    let env = TestEnv::new();
    env.write("f", "aaaa");
    // An mtime in the future is never older than the scan's clock: the entry must stay untrusted.
    let future = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    env.set_mtime("f", future);
    env.git_ml(&["add", "f"]).success();
    // Same size, same inode, same mtime: only the content differs.
    std::fs::write(env.path("f"), "bbbb").unwrap();
    env.set_mtime("f", future);
    let r = env.git_ml(&["status", "--json"]);
    r.code(1);
    assert_eq!(r.json()["paths"][0]["state"], "modified");
}

#[test]
fn status_after_touch_rehashes_once_then_trusts_the_index() {
    let env = TestEnv::new();
    for i in 0..50 {
        env.write(&format!("data/{i}"), bytes(i, 100));
    }
    env.git_ml(&["add", "data"]).success();
    // Make every mtime change without a content change.
    std::thread::sleep(std::time::Duration::from_millis(20));
    for i in 0..50 {
        env.set_mtime(
            &format!("data/{i}"),
            std::time::SystemTime::now() - std::time::Duration::from_secs(10),
        );
    }
    env.git_ml(&["status"]).success();
    let index = env.root.join(".git/gitml/index");
    let before = std::fs::metadata(&index).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    env.git_ml(&["status"]).success();
    let after = std::fs::metadata(&index).unwrap().modified().unwrap();
    assert_eq!(
        before, after,
        "a second status finds everything in the index and writes nothing"
    );
}

#[test]
fn rm_keeps_or_deletes_data_and_untracks() {
    let env = TestEnv::new();
    env.write("keep/a", "a");
    env.write("gone.bin", "g");
    env.git_ml(&["add", "keep", "gone.bin"]).success();
    env.git_ml(&["rm", "keep.gitml"]).success();
    assert!(!env.exists("keep.gitml") && env.exists("keep/a"));
    assert!(
        !String::from_utf8(env.read(".gitignore"))
            .unwrap()
            .lines()
            .any(|l| l == "/keep")
    );
    env.write("gone.bin", "local edit not in cache");
    let r = env.git_ml(&["rm", "--delete", "gone.bin"]);
    r.code(2);
    assert!(
        env.exists("gone.bin.gitml"),
        "refused rm leaves the pointer"
    );
    env.write("gone.bin", "g");
    env.git_ml(&["rm", "--delete", "gone.bin"]).success();
    assert!(!env.exists("gone.bin") && !env.exists("gone.bin.gitml"));
    let r = env.git_ml(&["rm", "nothing"]);
    r.code(2);
    assert!(r.stderr.contains("not tracked"), "{}", r.stderr);
}

#[test]
fn ls_lists_sizes_counts_and_cache_presence() {
    let env = TestEnv::new();
    env.write("data/a", bytes(1, 10));
    env.write("data/b", bytes(2, 20));
    env.write("m", bytes(3, 5));
    env.git_ml(&["add", "data", "m"]).success();
    let r = env.git_ml(&["ls", "--json"]);
    let j = r.success().json();
    assert_eq!(j[0]["path"], "data");
    assert_eq!(j[0]["files"], 2);
    assert_eq!(j[0]["size"], 30);
    assert_eq!(j[0]["cache"], "present");
    assert_eq!(j[1]["path"], "m");
    std::fs::remove_dir_all(env.cache_dir()).unwrap();
    let j = env.git_ml(&["ls", "--json"]).json();
    assert_eq!(j[0]["cache"], "missing");
    let text = env.git_ml(&["ls"]);
    assert!(
        text.stdout.contains("PATH") && text.stdout.contains("no"),
        "{}",
        text.stdout
    );
}

#[test]
fn verify_finds_and_quarantines_corrupt_objects() {
    let env = TestEnv::new();
    env.write("a", bytes(1, 3000));
    env.write("b", bytes(2, 3000));
    env.git_ml(&["add", "a", "b"]).success();
    env.git_ml(&["verify"]).success();
    let victim = env.object_path(&bytes(1, 3000));
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&victim, b"bit rot").unwrap();
    let r = env.git_ml(&["verify", "--json"]);
    r.code(1);
    assert_eq!(r.json()["corrupt"][0]["oid"], b3(&bytes(1, 3000)));
    env.git_ml(&["verify", "--quarantine"]).code(1);
    assert!(!victim.exists());
    env.git_ml(&["verify"]).success();
    // The damaged object is gone, so status says so, and re-adding the intact file repairs it.
    env.git_ml(&["status", "a"]).code(1);
    std::fs::remove_file(env.root.join(".git/gitml/index")).unwrap();
    env.git_ml(&["add", "a"]).success();
    env.git_ml(&["status"]).success();
    env.assert_cache_sound();
}

#[test]
fn worktrees_share_the_cache() {
    let env = TestEnv::new();
    env.write("data/a", "shared");
    env.git_ml(&["add", "data"]).success();
    env.commit_all("data");
    let wt = env.base.join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "other"]);
    env.git_ml_in(&wt, &["status"]).code(1);
    env.git_ml_in(&wt, &["checkout"]).success();
    assert_eq!(std::fs::read(wt.join("data/a")).unwrap(), b"shared");
    env.git_ml_in(&wt, &["status"]).success();
    assert!(!wt.join(".git/gitml").exists() || wt.join(".git").is_file());
}

#[test]
fn large_file_takes_the_streaming_path() {
    let env = TestEnv::new();
    let big = bytes(42, 20 * 1024 * 1024 + 123);
    env.write("big.bin", &big);
    let r = env.git_ml(&["add", "big.bin", "--json"]);
    assert_eq!(r.success().json()["added"][0]["oid"], b3(&big));
    std::fs::remove_file(env.path("big.bin")).unwrap();
    env.git_ml(&["checkout"]).success();
    assert_eq!(env.read("big.bin"), big);
    env.git_ml(&["status"]).success();
    env.assert_cache_sound();
}

#[test]
fn ten_thousand_file_directory() {
    let env = TestEnv::new();
    for i in 0..10_000u64 {
        env.write(&format!("many/{:02}/{i}.txt", i % 50), i.to_string());
    }
    env.git_ml(&["add", "many"]).success();
    env.git_ml(&["status"]).success();
    env.write("many/07/7.txt", "changed");
    let r = env.git_ml(&["status", "--json"]);
    r.code(1);
    assert_eq!(
        r.json()["paths"][0]["changes"]["modified"],
        serde_json::json!(["many/07/7.txt"])
    );
    std::fs::remove_dir_all(env.path("many")).unwrap();
    env.git_ml(&["checkout"]).success();
    assert_eq!(env.read("many/07/7.txt"), b"7");
    env.git_ml(&["status"]).success();
}

#[test]
fn quarantine_invalidates_what_status_knew_about_complete_directories() {
    let env = TestEnv::new();
    for i in 0..20 {
        env.write(&format!("d/{i}"), bytes(i, 64));
    }
    env.git_ml(&["add", "d"]).success();
    env.git_ml(&["status"]).success();
    let victim = env.object_path(&bytes(3, 64));
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&victim, b"damaged").unwrap();
    env.git_ml(&["verify", "--quarantine"]).code(1);
    let r = env.git_ml(&["status", "--json"]);
    r.code(1);
    assert_eq!(r.json()["paths"][0]["cache"], "partial", "{}", r.stdout);
    let r = env.git_ml(&["ls", "--json"]);
    assert_eq!(r.success().json()[0]["cache"], "partial");
    // Re-adding restores the object (the index knows the file, but not the object any more).
    env.git_ml(&["add", "d"]).success();
    env.git_ml(&["status"]).success();
}

#[test]
fn a_racy_file_keeps_its_directory_off_the_fast_path() {
    let env = TestEnv::new();
    env.write("d/a", "aaaa");
    env.write("d/b", "bbbb");
    let future = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let touch = |rel: &str| env.set_mtime(rel, future);
    touch("d/a");
    env.git_ml(&["add", "d"]).success();
    env.git_ml(&["status"]).success();
    env.git_ml(&["status"]).success();
    // Same size, inode and mtime: only a re-hash can see this, so no remembered root may be used.
    std::fs::write(env.path("d/a"), "AAAA").unwrap();
    touch("d/a");
    let r = env.git_ml(&["status", "--json"]);
    r.code(1);
    assert_eq!(
        r.json()["paths"][0]["changes"]["modified"],
        serde_json::json!(["d/a"])
    );
}
