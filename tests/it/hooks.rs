//! Git hooks fired by real git: `git commit`, `git push`, `git checkout`, `git merge`, `git
//! commit --amend`, `git rebase`, with hooks of the user's own that must keep working, with
//! `core.hooksPath`, in a linked worktree, and under the real pre-commit framework.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{TestEnv, bytes};

/// Run git without asserting success.
fn git_out(env: &TestEnv, dir: &Path, args: &[&str]) -> Output {
    env.command("git", dir).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn with_hooks() -> TestEnv {
    let env = TestEnv::new();
    let toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    env.write(
        "gitml.toml",
        format!("{toml}\n[hooks]\nmax_file_size = 100000\n"),
    );
    env.commit_all("git-ml");
    env.git_ml(&["install-hooks"]).success();
    env
}

fn hooks_dir(env: &TestEnv) -> PathBuf {
    env.root.join(".git/hooks")
}

#[test]
fn pre_commit_refuses_what_git_ml_cannot_stand_behind() {
    let env = with_hooks();
    // A large file git-ml does not track.
    env.write("big.bin", bytes(1, 200_000));
    env.git(&["add", "big.bin"]);
    let o = git_out(&env, &env.root, &["commit", "-q", "-m", "big"]);
    assert!(!o.status.success(), "the commit went through");
    let t = text(&o);
    assert!(
        t.contains("`big.bin`") && t.contains("hooks.max_file_size"),
        "{t}"
    );
    assert!(t.contains("git ml add big.bin"), "{t}");
    // Tracked, it goes in as a pointer.
    env.git(&["rm", "-q", "--cached", "big.bin"]);
    env.git_ml(&["add", "big.bin"]).success();
    env.git(&["add", "big.bin.gitml", ".gitignore"]);
    let o = git_out(&env, &env.root, &["commit", "-q", "-m", "big, tracked"]);
    assert!(o.status.success(), "{}", text(&o));

    // A pointer whose data is in neither the cache nor a remote.
    let fake = format!(
        "version = 1\ntype = \"file\"\noid = \"blake3:{}\"\nsize = 3\n",
        blake3::hash(b"nowhere").to_hex()
    );
    env.write("ghost.gitml", &fake);
    env.git(&["add", "ghost.gitml"]);
    let o = git_out(&env, &env.root, &["commit", "-q", "-m", "ghost"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("nobody could ever pull it"),
        "{}",
        text(&o)
    );
    env.git(&["rm", "-q", "--cached", "ghost.gitml"]);
    std::fs::remove_file(env.path("ghost.gitml")).unwrap();

    // A malformed pointer, gitml.toml, gitml.lock.
    for (file, body) in [
        ("bad.gitml", "version = 1\ntype = \"file\"\n"),
        ("gitml.lock", "[stages.x]\ncmd = 5\n"),
        (
            "gitml.toml",
            "[stages.t]\ndeps = [\"../x\"]\ncmd = \"true\"\n",
        ),
    ] {
        let before = std::fs::read(env.path(file)).ok();
        env.write(file, body);
        env.git(&["add", file]);
        let o = git_out(&env, &env.root, &["commit", "-q", "-m", file]);
        assert!(!o.status.success(), "{file} went in: {}", text(&o));
        assert!(text(&o).contains(file), "{file}: {}", text(&o));
        match before {
            Some(b) => std::fs::write(env.path(file), b).unwrap(),
            None => std::fs::remove_file(env.path(file)).unwrap(),
        }
        env.git(&["add", "-A"]);
    }
    // Data changed since `add`: a warning; the commit goes through.
    env.write("big.bin", bytes(2, 200_000));
    env.write("note.txt", "x");
    env.git(&["add", "note.txt"]);
    let o = git_out(&env, &env.root, &["commit", "-q", "-m", "note"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("changed since `git ml add`"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_existing_hook_is_chained_not_clobbered_and_comes_back_on_uninstall() {
    let env = TestEnv::new();
    let dir = hooks_dir(&env);
    std::fs::create_dir_all(&dir).unwrap();
    let user = "#!/bin/sh\necho user-hook-ran >> \"$(git rev-parse --git-dir)/user.log\"\n[ -f fail ] && exit 7\nexit 0\n";
    std::fs::write(dir.join("pre-commit"), user).unwrap();
    make_exec(&dir.join("pre-commit"));
    let r = env.git_ml(&["install-hooks", "--print"]);
    r.success();
    assert!(r.stdout.contains("would chain"), "{}", r.stdout);
    assert_eq!(
        std::fs::read_to_string(dir.join("pre-commit")).unwrap(),
        user,
        "--print wrote"
    );
    env.git_ml(&["install-hooks"]).success();
    assert_eq!(
        std::fs::read_to_string(dir.join("pre-commit.pre-gitml")).unwrap(),
        user
    );
    // Idempotent.
    let r = env.git_ml(&["install-hooks"]);
    r.success();
    assert!(
        !r.stdout.contains("chain") && !r.stdout.contains("install "),
        "{}",
        r.stdout
    );
    env.write("a.txt", "1");
    env.git(&["add", "a.txt"]);
    env.git(&["commit", "-q", "-m", "a"]);
    let log = std::fs::read_to_string(env.root.join(".git/user.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    // Its failure stops the commit, with its code.
    env.write("fail", "");
    env.git(&["add", "fail"]);
    let o = git_out(&env, &env.root, &["commit", "-q", "-m", "f"]);
    assert!(!o.status.success());
    std::fs::remove_file(env.path("fail")).unwrap();
    env.git(&["add", "-A"]);
    env.git_ml(&["uninstall-hooks"]).success();
    assert_eq!(
        std::fs::read_to_string(dir.join("pre-commit")).unwrap(),
        user
    );
    assert!(!dir.join("pre-commit.pre-gitml").exists());
    assert!(!dir.join("pre-push").exists());
}

fn make_exec(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn core_hooks_path_is_honoured_and_a_hook_managers_directory_is_left_alone() {
    let env = TestEnv::new();
    let shared = env.base.join("shared-hooks");
    std::fs::create_dir_all(&shared).unwrap();
    env.git(&["config", "core.hooksPath", shared.to_str().unwrap()]);
    env.git_ml(&["install-hooks"]).success();
    assert!(shared.join("pre-commit").is_file());
    assert!(!hooks_dir(&env).join("pre-commit").exists());
    // husky-style: hooks in the work tree, one there already: nothing written, the line to add
    // printed, exit 1.
    env.write(".husky/pre-commit", "npm test\n");
    env.git(&["config", "core.hooksPath", ".husky"]);
    let r = env.git_ml(&["install-hooks"]);
    r.code(1);
    assert!(
        r.stdout.contains("left") && r.stdout.contains("git-ml hook pre-commit"),
        "{}",
        r.stdout
    );
    assert_eq!(env.read(".husky/pre-commit"), b"npm test\n");
    assert!(
        env.exists(".husky/pre-push"),
        "a missing hook is still installed"
    );
}

#[test]
fn pre_push_uploads_data_records_and_tags_before_the_commits() {
    let env = TestEnv::new();
    // The user's own pre-push hook, which reads the ref lines too.
    let dir = hooks_dir(&env);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("pre-push"),
        "#!/bin/sh\ncat > \"$(git rev-parse --git-dir)/user-stdin\"\n",
    )
    .unwrap();
    make_exec(&dir.join("pre-push"));
    let toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    env.write("gitml.toml", format!("{toml}\n[models.m]\npath = \"d\"\n"));
    let store = env.base.join("store");
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    env.git_ml(&["install-hooks"]).success();
    let origin = env.base.join("origin.git");
    env.git(&["init", "-q", "--bare", origin.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", origin.to_str().unwrap()]);
    env.write("d/a.bin", bytes(3, 5000));
    env.write("m.json", r#"{"acc": 1}"#);
    env.git_ml(&["add", "d"]).success();
    env.commit_all("data");
    env.git_ml(&["record", "--metrics", "m.json"]).success();
    env.git_ml(&["model", "register", "m"]).success();
    let o = git_out(&env, &env.root, &["push", "-q", "origin", "main"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(TestEnv::objects_under(&store).len(), 3, "file, chunk, root");
    let notes = git_out(
        &env,
        &origin,
        &["notes", "--ref", "refs/notes/gitml", "list"],
    );
    assert!(
        !notes.stdout.is_empty(),
        "the run records did not go: {}",
        text(&o)
    );
    let tags = git_out(&env, &origin, &["tag", "-l"]);
    assert!(
        String::from_utf8_lossy(&tags.stdout).contains("m@v"),
        "no registry tag: {}",
        text(&o)
    );
    let seen = std::fs::read_to_string(env.root.join(".git/user-stdin")).unwrap();
    assert!(
        seen.contains("refs/heads/main"),
        "the chained hook got no input: {seen:?}"
    );
    // GITML_SKIP_PUSH skips the upload on purpose.
    env.write("d/b.bin", bytes(4, 5000));
    env.git_ml(&["add", "d"]).success();
    env.commit_all("more");
    let o = env
        .command("git", &env.root)
        .args(["push", "-q", "origin", "main"])
        .env("GITML_SKIP_PUSH", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(TestEnv::objects_under(&store).len(), 3);
    // A push the data remote cannot take is stopped.
    env.write("d/c.bin", bytes(5, 5000));
    env.git_ml(&["add", "d"]).success();
    env.commit_all("even more");
    std::fs::remove_dir_all(&store).unwrap();
    std::fs::write(&store, "not a directory").unwrap();
    let o = git_out(&env, &env.root, &["push", "-q", "origin", "main"]);
    assert!(!o.status.success(), "pushed without its data");
    assert!(
        text(&o).contains("push was stopped") || text(&o).contains("remote `store`"),
        "{}",
        text(&o)
    );
    let remote_main = git_out(&env, &origin, &["rev-parse", "main"]);
    let local_prev = env.git(&["rev-parse", "HEAD~1"]);
    assert_eq!(String::from_utf8_lossy(&remote_main.stdout), local_prev);
}

#[test]
fn data_follows_checkout_and_merge_and_missing_data_is_one_line() {
    let env = with_hooks();
    env.write("d.bin", bytes(6, 1000));
    env.git_ml(&["add", "d.bin"]).success();
    env.commit_all("v1");
    env.git(&["checkout", "-q", "-b", "v2"]);
    env.write("d.bin", bytes(7, 1000));
    env.git_ml(&["add", "d.bin"]).success();
    env.commit_all("v2");
    let o = git_out(&env, &env.root, &["checkout", "-q", "main"]);
    assert!(o.status.success());
    assert_eq!(
        env.read("d.bin"),
        bytes(6, 1000),
        "the data did not follow: {}",
        text(&o)
    );
    let o = git_out(&env, &env.root, &["merge", "-q", "v2"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(env.read("d.bin"), bytes(7, 1000), "merge: {}", text(&o));
    // In a clone without the data: the checkout goes through, and one line says what to run.
    let clone = env.clone_repo();
    clone.git_ml(&["install-hooks"]).success();
    let o = git_out(
        &clone,
        &clone.root,
        &["checkout", "-q", "-b", "x", "HEAD~1"],
    );
    assert!(o.status.success());
    let t = text(&o);
    assert_eq!(
        t.lines().filter(|l| l.starts_with("git-ml:")).count(),
        1,
        "{t}"
    );
    assert!(t.contains("git ml pull"), "{t}");
}

#[test]
fn post_commit_and_post_rewrite_keep_runs_on_their_commits() {
    let env = with_hooks();
    env.write("m.json", r#"{"acc": 0.5}"#);
    env.write("p.yaml", "lr: 1\n");
    env.commit_all("v1");
    env.write("p.yaml", "lr: 2\n");
    let rec = env
        .git_ml(&[
            "record",
            "--metrics",
            "m.json",
            "--params",
            "p.yaml",
            "--json",
        ])
        .success()
        .json();
    let id = rec["run"]["id"].as_str().unwrap().to_string();
    assert!(rec["commit"].is_null());
    let o = git_out(&env, &env.root, &["commit", "-q", "-am", "lr 2"]);
    assert!(
        text(&o).contains(&format!("recorded pending run {id}")),
        "{}",
        text(&o)
    );
    // Straight from git, no git-ml command in between.
    let note = env.git(&["notes", "--ref", "refs/notes/gitml", "show", "HEAD"]);
    assert!(note.contains(&id), "{note}");
    env.git(&["commit", "-q", "--amend", "-m", "lr 2 (amended)"]);
    let note = env.git(&["notes", "--ref", "refs/notes/gitml", "show", "HEAD"]);
    assert!(note.contains(&id), "amend lost the run: {note}");
    env.git(&["checkout", "-q", "-b", "side", "HEAD~1"]);
    env.write("other.txt", "x");
    env.commit_all("side");
    env.git(&["checkout", "-q", "main"]);
    env.git(&["rebase", "-q", "side"]);
    let note = env.git(&["notes", "--ref", "refs/notes/gitml", "show", "HEAD"]);
    assert!(note.contains(&id), "rebase lost the run: {note}");
}

#[test]
fn a_linked_worktree_shares_the_hooks() {
    let env = with_hooks();
    let wt = env.base.join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap()]);
    std::fs::write(wt.join("big.bin"), bytes(8, 200_000)).unwrap();
    env.git_in(&wt, &["add", "big.bin"]);
    let o = git_out(&env, &wt, &["commit", "-q", "-m", "big"]);
    assert!(
        !o.status.success(),
        "the worktree's commit skipped the hook"
    );
    assert!(text(&o).contains("big.bin"), "{}", text(&o));
    let r = env.git_ml_in(&wt, &["install-hooks"]);
    r.success();
    assert!(
        !r.stdout.contains("install "),
        "installed twice: {}",
        r.stdout
    );
}

#[test]
fn a_hook_does_nothing_outside_a_git_ml_repository_or_without_the_binary() {
    let env = TestEnv::bare_repo();
    let r = env.git_ml(&["hook", "pre-commit"]);
    r.success();
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    // The shim without git-ml on PATH.
    let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks/pre-commit");
    let o = std::process::Command::new("sh")
        .arg(&shim)
        .env("PATH", "/usr/bin:/bin")
        .current_dir(&env.root)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not on PATH"));
}

#[test]
fn the_pre_commit_framework_runs_the_same_hooks() {
    let env = TestEnv::new();
    // The hook repository pre-commit installs from: this project's .pre-commit-hooks.yaml.
    let hook_repo = env.base.join("hook-repo");
    std::fs::create_dir_all(&hook_repo).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
        hook_repo.join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    env.git_in(&hook_repo, &["init", "-q"]);
    env.git_in(&hook_repo, &["add", "-A"]);
    env.git_in(&hook_repo, &["commit", "-q", "-m", "hooks"]);
    let rev = env
        .git_in(&hook_repo, &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    env.write(
        ".pre-commit-config.yaml",
        format!(
            "repos:\n- repo: {}\n  rev: {rev}\n  hooks:\n  - id: git-ml-pre-commit\n  - id: git-ml-pre-push\n  - id: git-ml-post-checkout\n",
            hook_repo.display()
        ),
    );
    let toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    env.write(
        "gitml.toml",
        format!("{toml}\n[hooks]\nmax_file_size = 100000\n"),
    );
    env.commit_all("pre-commit config");
    let install = env
        .command("pre-commit", &env.root)
        .args([
            "install",
            "--hook-type",
            "pre-commit",
            "--hook-type",
            "pre-push",
            "--hook-type",
            "post-checkout",
        ])
        .output()
        .expect("pre-commit (scripts/test installs it into target/test-tools)");
    assert!(install.status.success(), "{}", text(&install));
    env.write("big.bin", bytes(9, 200_000));
    env.git(&["add", "big.bin"]);
    let o = git_out(&env, &env.root, &["commit", "-q", "-m", "big"]);
    assert!(!o.status.success(), "pre-commit let it in: {}", text(&o));
    assert!(text(&o).contains("hooks.max_file_size"), "{}", text(&o));
    env.git(&["rm", "-q", "--cached", "big.bin"]);
    env.git_ml(&["add", "big.bin"]).success();
    env.git(&["add", "-A"]);
    let o = git_out(&env, &env.root, &["commit", "-q", "-m", "tracked"]);
    assert!(o.status.success(), "{}", text(&o));
    let all = env
        .command("pre-commit", &env.root)
        .args(["run", "--all-files"])
        .output()
        .unwrap();
    assert!(all.status.success(), "{}", text(&all));
    // post-checkout through the framework: the data follows.
    env.git(&["checkout", "-q", "-b", "old", "HEAD~1"]);
    env.git(&["checkout", "-q", "main"]);
    std::fs::remove_file(env.path("big.bin")).unwrap();
    env.git(&["checkout", "-q", "old"]);
    let o = git_out(&env, &env.root, &["checkout", "-q", "main"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(env.read("big.bin"), bytes(9, 200_000), "{}", text(&o));
}

#[test]
fn a_push_killed_in_its_hook_is_finished_by_the_next_push() {
    let env = TestEnv::new();
    let store = env.base.join("store");
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    env.git_ml(&["install-hooks"]).success();
    let origin = env.base.join("origin.git");
    env.git(&["init", "-q", "--bare", origin.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", origin.to_str().unwrap()]);
    for i in 0..3000 {
        env.write(&format!("d/{i:04}.bin"), bytes(100 + i, 2048));
    }
    env.git_ml(&["add", "d"]).success();
    env.commit_all("3000 files");
    let mut cmd = env.command("git", &env.root);
    cmd.args(["push", "-q", "origin", "main"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().unwrap();
    // Kill the whole push (git, the hook, git-ml) once the upload is under way.
    let t0 = std::time::Instant::now();
    while TestEnv::objects_under(&store).len() < 50 && t0.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    let _ = child.wait();
    let partial = TestEnv::objects_under(&store);
    // Whatever is there is whole: every object hashes to its name.
    for o in &partial {
        let name = format!(
            "{}{}",
            o.parent().unwrap().file_name().unwrap().to_string_lossy(),
            o.file_name().unwrap().to_string_lossy()
        );
        assert_eq!(
            blake3::hash(&std::fs::read(o).unwrap()).to_hex().as_str(),
            name
        );
    }
    let o = git_out(&env, &env.root, &["push", "-q", "origin", "main"]);
    assert!(o.status.success(), "{}", text(&o));
    let r = env.git_ml(&["status", "--remote", "--json"]);
    r.success();
    assert_eq!(r.json()["pushed"], true);
    assert!(TestEnv::objects_under(&store).len() > 3000);
}
