//! Untrusted input: malformed pointers and manifests, paths escaping the repository, symlinks.
//! Each must fail with a message naming the file, and write nothing outside the repository.

use crate::common::{TestEnv, bytes};

fn oid_hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Put raw bytes into the cache under their hash, as a remote or a hand edit could.
fn plant_object(env: &TestEnv, data: &[u8]) -> String {
    let hex = oid_hex(data);
    let dir = env.cache_dir().join("blake3").join(&hex[..2]);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&hex[2..]), data).unwrap();
    hex
}

/// A syntactically valid manifest (root + one chunk) with the given entry lines.
fn plant_manifest(env: &TestEnv, entry_lines: &[String], files: u64, size: u64) -> String {
    let mut chunk = b"{\"gitml\":\"chunk\",\"version\":1}\n".to_vec();
    for l in entry_lines {
        chunk.extend_from_slice(l.as_bytes());
        chunk.push(b'\n');
    }
    let chunk_hex = plant_object(env, &chunk);
    let root = format!(
        "{{\n  \"gitml\": \"manifest\",\n  \"version\": 1,\n  \"files\": {files},\n  \"size\": {size},\n  \"chunks\": [\n    {{\n      \"oid\": \"blake3:{chunk_hex}\",\n      \"entries\": {}\n    }}\n  ]\n}}\n",
        entry_lines.len()
    );
    plant_object(env, root.as_bytes())
}

fn dir_pointer(root_hex: &str, files: u64, size: u64) -> String {
    format!(
        "version = 1\ntype = \"dir\"\noid = \"blake3:{root_hex}\"\nsize = {size}\nfiles = {files}\n"
    )
}

#[test]
fn malformed_pointers_name_file_and_line() {
    let env = TestEnv::new();
    env.write(
        "a.gitml",
        "version = 1\ntype = \"file\"\noid = \"blake3:nothex\"\nsize = 3\n",
    );
    let r = env.git_ml(&["status"]);
    r.code(2);
    assert!(
        r.stderr.contains("error: a.gitml:3: invalid oid"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    let r = env.git_ml(&["checkout"]);
    r.code(2);
    assert!(!env.exists("a"), "nothing materialised from a bad pointer");

    env.write("a.gitml", "this is [not toml\n");
    let r = env.git_ml(&["status"]);
    r.code(2);
    assert!(r.stderr.contains("a.gitml:1:"), "{}", r.stderr);

    env.write(
        "a.gitml",
        "version = 9\ntype = \"file\"\noid = \"blake3:00\"\nsize = 3\n",
    );
    let r = env.git_ml(&["ls"]);
    r.code(2);
    assert!(
        r.stderr.contains("a.gitml:1:") && r.stderr.contains("version 9"),
        "{}",
        r.stderr
    );
}

#[test]
fn hostile_manifests_are_refused_before_anything_is_written() {
    let env = TestEnv::new();
    let payload = b"owned";
    let obj = plant_object(&env, payload);
    let cases = [
        (
            format!("{{\"path\":\"../../evil\",\"oid\":\"blake3:{obj}\",\"size\":5}}"),
            "`..`",
        ),
        (
            format!("{{\"path\":\"/tmp/evil\",\"oid\":\"blake3:{obj}\",\"size\":5}}"),
            "absolute",
        ),
        (
            format!("{{\"path\":\"x/.git/hooks/pre-commit\",\"oid\":\"blake3:{obj}\",\"size\":5}}"),
            "`.git`",
        ),
        (
            "{\"path\":\"link\",\"type\":\"symlink\",\"target\":\"../../..\"}".to_string(),
            "leads out",
        ),
    ];
    for (line, expect) in cases {
        let root = plant_manifest(&env, std::slice::from_ref(&line), 1, 5);
        env.write("data.gitml", dir_pointer(&root, 1, 5));
        let r = env.git_ml(&["checkout"]);
        r.code(2);
        assert!(r.stderr.contains(expect), "{line}: {}", r.stderr);
        assert!(!env.exists("data"), "{line}: nothing written");
        assert!(!env.base.join("evil").exists() && !std::path::Path::new("/tmp/evil").exists());
    }
    // Entries below a symlink would write through it.
    let lines = vec![
        "{\"path\":\"a\",\"type\":\"symlink\",\"target\":\".\"}".to_string(),
        format!("{{\"path\":\"a/x\",\"oid\":\"blake3:{obj}\",\"size\":5}}"),
    ];
    let root = plant_manifest(&env, &lines, 1, 5);
    env.write("data.gitml", dir_pointer(&root, 1, 5));
    let r = env.git_ml(&["checkout"]);
    r.code(2);
    assert!(r.stderr.contains("below a file or symlink"), "{}", r.stderr);
    assert!(!env.exists("data"));
}

#[test]
fn corrupt_manifest_and_objects_are_detected() {
    let env = TestEnv::new();
    env.write("data/a", bytes(1, 100));
    env.git_ml(&["add", "data"]).success();
    std::fs::remove_dir_all(env.path("data")).unwrap();
    // Damage every manifest object (the only non-100-byte objects).
    for o in env.cache_objects() {
        if std::fs::metadata(&o).unwrap().len() != 100 {
            let mut p = std::fs::metadata(&o).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            p.set_readonly(false);
            std::fs::set_permissions(&o, p).unwrap();
            std::fs::write(&o, b"{}").unwrap();
        }
    }
    let r = env.git_ml(&["checkout"]);
    r.code(2);
    assert!(r.stderr.contains("corrupt"), "{}", r.stderr);
    assert!(r.stderr.contains("git ml verify"), "{}", r.stderr);
    assert!(!env.exists("data"));
}

#[test]
fn paths_outside_the_repository_are_refused() {
    let env = TestEnv::new();
    std::fs::write(env.base.join("outside.bin"), "x").unwrap();
    let r = env.git_ml(&["add", "../outside.bin"]);
    r.code(2);
    assert!(r.stderr.contains("outside the repository"), "{}", r.stderr);
    let r = env.git_ml(&["add", env.base.join("outside.bin").to_str().unwrap()]);
    r.code(2);
    let r = env.git_ml(&["add", ".git/config"]);
    r.code(2);
    assert!(r.stderr.contains("git directory"), "{}", r.stderr);
    let r = env.git_ml(&["add", "."]);
    r.code(2);
    assert!(r.stderr.contains("repository root"), "{}", r.stderr);
    // Through a symlinked directory that leads out.
    std::os::unix::fs::symlink(&env.base, env.path("escape")).unwrap();
    let r = env.git_ml(&["add", "escape/outside.bin"]);
    r.code(2);
    assert!(r.stderr.contains("outside the repository"), "{}", r.stderr);
    assert!(!env.base.join("outside.bin.gitml").exists());
}

#[test]
fn symlink_policy() {
    let env = TestEnv::new();
    env.write("real.bin", "r");
    std::os::unix::fs::symlink("real.bin", env.path("alias.bin")).unwrap();
    let r = env.git_ml(&["add", "alias.bin"]);
    r.code(2);
    assert!(
        r.stderr.contains("is a symlink") && r.stderr.contains("hint:"),
        "{}",
        r.stderr
    );

    env.write("d/file", "f");
    std::os::unix::fs::symlink("/etc/passwd", env.path("d/abs-link")).unwrap();
    let r = env.git_ml(&["add", "d"]);
    r.code(2);
    assert!(
        r.stderr.contains("d/abs-link") && r.stderr.contains("leads out"),
        "{}",
        r.stderr
    );
    assert!(!env.exists("d.gitml"));
    std::fs::remove_file(env.path("d/abs-link")).unwrap();
    std::os::unix::fs::symlink("../real.bin", env.path("d/up-link")).unwrap();
    let r = env.git_ml(&["add", "d"]);
    r.code(2);
    assert!(r.stderr.contains("d/up-link"), "{}", r.stderr);
    std::fs::remove_file(env.path("d/up-link")).unwrap();
    std::os::unix::fs::symlink("file", env.path("d/ok-link")).unwrap();
    env.git_ml(&["add", "d"]).success();
}

#[test]
fn nested_and_reserved_paths_are_refused() {
    let env = TestEnv::new();
    env.write("d/sub/x", "x");
    env.git_ml(&["add", "d"]).success();
    let r = env.git_ml(&["add", "d/sub"]);
    r.code(2);
    assert!(
        r.stderr.contains("already tracks") && r.stderr.contains("git ml add d"),
        "{}",
        r.stderr
    );
    env.write("e/inner/y", "y");
    env.git_ml(&["add", "e/inner"]).success();
    let r = env.git_ml(&["add", "e"]);
    r.code(2);
    assert!(r.stderr.contains("git ml rm e/inner"), "{}", r.stderr);
    env.write("z.gitml", "");
    let r = env.git_ml(&["add", "z.gitml"]);
    r.code(2);
    assert!(r.stderr.contains("reserved"), "{}", r.stderr);
    let r = env.git_ml(&["add", "does-not-exist"]);
    r.code(2);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
}

#[test]
fn missing_objects_fail_checkout_with_a_hint() {
    let env = TestEnv::new();
    env.write("m.bin", "model");
    env.git_ml(&["add", "m.bin"]).success();
    std::fs::remove_file(env.path("m.bin")).unwrap();
    std::fs::remove_dir_all(env.cache_dir()).unwrap();
    let r = env.git_ml(&["checkout"]);
    r.code(2);
    assert!(
        r.stderr.contains("not in the cache") && r.stderr.contains("git ml pull"),
        "{}",
        r.stderr
    );
}

#[test]
fn config_errors_name_file_line_and_column() {
    let env = TestEnv::new();
    let base = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    let cases: &[(&str, &[&str])] = &[
        (
            "[cache]\nlink = 5\n",
            &["gitml.toml: line", "column", "invalid type"],
        ),
        (
            "[core]\njobs = \"many\"\n",
            &["gitml.toml: line", "jobs", "column"],
        ),
        (
            "[cahce]\nlink = [\"copy\"]\n",
            &["unknown field `cahce`", "`stages`", "`remotes`"],
        ),
        (
            "[stages.t]\ncmd = 5\n",
            &["[stages.t]", "`cmd` must be a string or a list of strings"],
        ),
    ];
    for (extra, wanted) in cases {
        env.write("gitml.toml", format!("# a project\n{extra}"));
        let r = env.git_ml(&["run", "--dry-run"]);
        r.code(2);
        for w in *wanted {
            assert!(
                r.stderr.contains(w),
                "{extra:?}: missing {w:?} in {}",
                r.stderr
            );
        }
        assert_eq!(
            r.stderr.lines().filter(|l| l.starts_with("error:")).count(),
            1
        );
    }
    // A line of 600 KB is not echoed back.
    env.write(
        "gitml.toml",
        format!("{base}\nx = [{}\n", "1,".repeat(300_000)),
    );
    let r = env.git_ml(&["status"]);
    r.code(2);
    assert!(r.stderr.len() < 2000, "{} bytes of error", r.stderr.len());
    // Not UTF-8: named, with the byte.
    env.write("gitml.toml", b"[cache]\n# \xff\xfe\n");
    let r = env.git_ml(&["status"]);
    r.code(2);
    assert!(
        r.stderr.contains("gitml.toml") && r.stderr.contains("UTF-8"),
        "{}",
        r.stderr
    );
}

#[test]
fn metrics_files_as_python_writes_them_and_colliding_keys() {
    let env = TestEnv::new();
    env.write(
        "m.json",
        "{\"loss\": NaN, \"acc\": 0.5, \"a.b\": 1, \"a\": {\"b\": 2}}",
    );
    env.commit_all("m");
    let r = env.git_ml(&["record", "--metrics", "m.json", "--json"]);
    r.success();
    let run = &r.json()["run"];
    assert_eq!(run["metrics"]["loss"], "nan", "{run}");
    assert_eq!(run["metrics"]["acc"], 0.5, "{run}");
    assert!(r.stderr.contains("`a.b` appears twice"), "{}", r.stderr);
    env.write("m.json", "{\"acc\": 0.5,,}");
    env.commit_all("broken");
    let r = env.git_ml(&["record", "--metrics", "m.json"]);
    r.code(2);
    assert!(r.stderr.contains("m.json:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("docs/formats.md"),
        "the hint fits the error: {}",
        r.stderr
    );
}

#[test]
fn a_pointer_whose_size_disagrees_with_its_content_is_refused() {
    let env = TestEnv::new();
    env.write("a.bin", bytes(1, 100));
    env.write("d/x", "x");
    env.git_ml(&["add", "a.bin", "d"]).success();
    let p = String::from_utf8(env.read("a.bin.gitml")).unwrap();
    env.write("a.bin.gitml", p.replace("size = 100", "size = 999999"));
    for cmd in ["ls", "checkout", "status"] {
        let r = env.git_ml(&[cmd]);
        r.code(2);
        assert!(
            r.stderr.contains("a.bin.gitml:") && r.stderr.contains("999999"),
            "{cmd}: {}",
            r.stderr
        );
    }
    env.write("a.bin.gitml", p);
    let d = String::from_utf8(env.read("d.gitml")).unwrap();
    env.write("d.gitml", d.replace("files = 1", "files = 7"));
    std::fs::remove_file(env.path("d/x")).unwrap();
    let r = env.git_ml(&["checkout", "d"]);
    r.code(2);
    assert!(r.stderr.contains("d.gitml:"), "{}", r.stderr);
    assert!(!env.exists("d/x"));
}

#[test]
fn each_hint_points_to_the_docs_of_the_file_that_failed() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str("\n[metrics]\nfiles = [\"m.json\"]\n\n[stages.s]\ncmd = \"true\"\n");
    env.write("gitml.toml", toml);
    env.commit_all("stage");
    // A metrics file that does not parse: the metrics format's docs.
    env.write("m.json", "{\"acc\": ");
    let r = env.git_ml(&["record", "--allow-dirty"]);
    r.code(2);
    assert!(r.stderr.contains("m.json"), "{}", r.stderr);
    let hint = hint_of(&r);
    assert!(
        hint.contains("formats.md") && !hint.contains("configuration.md"),
        "{}",
        r.stderr
    );
    // A broken gitml.lock: how the lock file is written and merged, not gitml.toml's keys.
    env.write("m.json", "{\"acc\": 1}");
    env.write("gitml.lock", "[stages.s]\ncmd = 3\n");
    let r = env.git_ml(&["run"]);
    r.code(2);
    assert!(r.stderr.contains("gitml.lock"), "{}", r.stderr);
    let hint = hint_of(&r);
    assert!(
        hint.contains("git ml run") && hint.contains("formats.md"),
        "{}",
        r.stderr
    );
    assert!(!hint.contains("configuration.md"), "{}", r.stderr);
    // gitml.toml itself: its keys.
    env.write("gitml.toml", "[stages.s]\ncmd = 1\n");
    let r = env.git_ml(&["run"]);
    r.code(2);
    assert!(r.stderr.contains("configuration.md"), "{}", r.stderr);
}

/// The `hint:` line of a command's stderr (empty when there is none).
fn hint_of(r: &crate::common::Run) -> &str {
    r.stderr
        .lines()
        .find(|l| l.starts_with("hint:"))
        .unwrap_or_default()
}
