//! The command line itself: help, version, completions, man page, exit codes.

use crate::common::TestEnv;

#[test]
fn version_help_completions_and_man() {
    let env = TestEnv::bare_repo();
    let v = env.git_ml(&["--version"]);
    assert!(v.success().stdout.starts_with("git-ml "), "{}", v.stdout);
    let h = env.git_ml(&["add", "--help"]);
    assert!(
        h.success().stdout.contains("Usage: git ml add"),
        "{}",
        h.stdout
    );
    let c = env.git_ml(&["completions", "bash"]);
    assert!(
        c.success().stdout.contains("checkout"),
        "completion lists subcommands"
    );
    let m = env.git_ml(&["man"]);
    assert!(
        m.success().stdout.starts_with(".ie") || m.stdout.contains(".TH git-ml"),
        "{}",
        &m.stdout[..200.min(m.stdout.len())]
    );
    let dir = env.base.join("man1");
    env.git_ml(&["man", "--dir", dir.to_str().unwrap()])
        .success();
    assert!(dir.join("git-ml.1").is_file() && dir.join("git-ml-add.1").is_file());
    let bad = env.git_ml(&["no-such-command"]);
    bad.code(2);
}

#[test]
fn config_precedence_and_errors() {
    let env = TestEnv::new();
    env.write("f", "x");
    // A bad value names its origin and key.
    let mut cmd = env.command(crate::common::BIN, &env.root);
    let out = cmd
        .args(["status"])
        .env("GITML_CACHE_LINK", "teleport")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cache.link") && err.contains("GITML_CACHE_LINK") && err.contains("teleport"),
        "{err}"
    );
    // A malformed gitml.toml names the file and line.
    env.write("gitml.toml", "[cache]\nlink = [\"copy\"\n");
    let r = env.git_ml(&["status"]);
    r.code(2);
    assert!(
        r.stderr.contains("gitml.toml") && r.stderr.contains("line"),
        "{}",
        r.stderr
    );
    // Unknown key in a known section.
    env.write("gitml.toml", "[cache]\nlnk = \"copy\"\n");
    let r = env.git_ml(&["status"]);
    r.code(2);
    assert!(r.stderr.contains("lnk"), "{}", r.stderr);
    // -c beats gitml.toml.
    env.write("gitml.toml", "[cache]\nlink = [\"symlink\"]\n");
    env.git_ml(&["add", "f"]).success();
    std::fs::remove_file(env.path("f")).unwrap();
    env.git_ml(&["-c", "cache.link=copy", "checkout"]).success();
    assert!(
        !std::fs::symlink_metadata(env.path("f"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    std::fs::remove_file(env.path("f")).unwrap();
    env.git_ml(&["checkout"]).success();
    assert!(
        std::fs::symlink_metadata(env.path("f"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn runs_from_subdirectory_and_with_dash_c() {
    let env = TestEnv::new();
    env.write("sub/data/x", "x");
    env.git_ml_in(&env.path("sub"), &["add", "data"]).success();
    assert!(env.exists("sub/data.gitml"));
    assert!(
        String::from_utf8(env.read("sub/.gitignore"))
            .unwrap()
            .contains("/data")
    );
    env.git_ml_in(&env.base, &["-C", "repo", "status"])
        .success();
    env.git_ml_in(&env.path("sub"), &["status", "data"])
        .success();
}

#[test]
fn verbosity_quiet_and_verbose_do_what_they_say() {
    let env = TestEnv::bare_repo();
    let r = env.git_ml(&["-q", "init"]);
    r.success();
    assert_eq!(r.stdout, "", "init -q printed");
    assert_eq!(r.stderr, "", "init -q printed");
    env.write("a.bin", crate::common::bytes(1, 100));
    let r = env.git_ml(&["-q", "add", "a.bin"]);
    r.success();
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
    // The data a read command was asked for stays.
    let r = env.git_ml(&["-q", "ls"]);
    assert!(r.stdout.contains("a.bin"), "{}", r.stdout);
    let r = env.git_ml(&["-v", "status"]);
    assert!(
        r.stderr.contains("INFO") && r.stderr.contains("repository"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("DEBUG"), "{}", r.stderr);
    let r = env.git_ml(&["-vv", "log"]);
    assert!(r.stderr.contains("DEBUG"), "{}", r.stderr);
}

#[test]
fn an_error_under_json_is_json_on_stdout_too() {
    let env = TestEnv::new();
    env.write("a.bin", crate::common::bytes(1, 100));
    env.git_ml(&["add", "a.bin"]).success();
    let r = env.git_ml(&["push", "--json"]);
    r.code(2);
    let j = r.json();
    assert!(
        j["error"].as_str().unwrap().contains("no data remote"),
        "{j}"
    );
    assert!(r.stderr.starts_with("error:"), "{}", r.stderr);
}
