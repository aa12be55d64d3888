//! Behaving like a git command at the terminal: a reader that goes away (`| head`), results on
//! stdout and the rest on stderr, colour the git way, quiet when nothing happened.

use std::io::Write;
use std::process::Stdio;

use crate::common::{BIN, TestEnv};

/// A repository whose commands print far more than a pipe holds (64 KiB): 3,000 metrics, 1,500
/// tracked files, 1,500 stages, 2,000 registry events.
fn big() -> TestEnv {
    let env = TestEnv::new();
    let metrics: serde_json::Map<String, serde_json::Value> = (0..3000)
        .map(|i| {
            (
                format!("metric_with_a_long_name_{i:05}"),
                serde_json::Value::from(i as f64 / 7.0),
            )
        })
        .collect();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str("\n[metrics]\nfiles = [\"m.json\"]\n\n[models.m]\npath = \"f/0000\"\n");
    for i in 0..1500 {
        toml.push_str(&format!(
            "\n[stages.stage_{i:04}_with_a_name_long_enough_to_fill_a_pipe]\ncmd = \"true\"\n"
        ));
    }
    env.write("gitml.toml", toml);
    env.write(
        "m.json",
        serde_json::Value::Object(metrics.clone()).to_string(),
    );
    let files: Vec<String> = (0..1500).map(|i| format!("f/{i:04}")).collect();
    for f in &files {
        env.write(f, f.as_bytes());
    }
    let mut args = vec!["add", "-q"];
    args.extend(files.iter().map(String::as_str));
    env.git_ml(&args).success();
    env.commit_all("v1");
    env.git_ml(&["record"]).success();
    let shifted: serde_json::Map<String, serde_json::Value> = metrics
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                serde_json::Value::from(v.as_f64().unwrap() + 1.0),
            )
        })
        .collect();
    env.write("m.json", serde_json::Value::Object(shifted).to_string());
    env.commit_all("v2");
    env.git_ml(&["record"]).success();
    // 2,000 registry events, written in one git fast-import.
    let head = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let mut stream = String::new();
    for i in 0..2000 {
        stream.push_str(&format!(
            "tag m@v0.{}.{}\nfrom {head}\ntagger T <t@example.com> 1700000000 +0000\ndata 8\nregister\n",
            i / 100,
            i % 100
        ));
    }
    let mut child = env
        .command("git", &env.root)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    env
}

#[test]
fn a_closed_stdout_ends_every_command_quietly_with_zero() {
    let env = big();
    let commands: &[&[&str]] = &[
        &["log"],
        &["diff", "HEAD~1", "HEAD", "--all"],
        &["ls"],
        &["status", "--all"],
        &["show"],
        &["report", "--base", "HEAD~1"],
        &["model", "history", "m"],
        &["dag"],
        &["completions", "bash"],
    ];
    for args in commands {
        for json in [false, true] {
            let mut args: Vec<&str> = args.to_vec();
            if json {
                match args[0] {
                    "report" => args.extend(["--format", "json"]),
                    "dag" => args.push("--mermaid"),
                    "completions" => args[1] = "zsh",
                    _ => args.push("--json"),
                }
            }
            let full = env.git_ml(&args);
            assert!(
                full.stdout.len() > 64 * 1024,
                "`git ml {}` printed only {} bytes: not a test of a full pipe",
                args.join(" "),
                full.stdout.len()
            );
            let script = format!(
                "'{BIN}' {} | head -c 1 > /dev/null; echo \"rc=${{PIPESTATUS[0]}}\" >&3",
                args.join(" ")
            );
            let out = env
                .command("bash", &env.root)
                .args([
                    "-c",
                    &format!("exec 3>&1; {{ {script}; }} 2>&1 1>/dev/null"),
                ])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.trim() == "rc=0",
                "`git ml {} | head -c 1`: {text}",
                args.join(" ")
            );
        }
    }
}

#[test]
fn results_go_to_stdout_and_an_up_to_date_pipeline_is_one_line() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    for i in 0..50 {
        toml.push_str(&format!(
            "\n[stages.s{i:02}]\ncmd = \"echo {i} > o{i:02}.txt\"\nouts = [\"o{i:02}.txt\"]\n"
        ));
    }
    env.write("gitml.toml", toml);
    let first = env.git_ml(&["run", "--no-record"]);
    first.success();
    assert!(
        first.stdout.contains("s00") && first.stdout.contains("ran"),
        "the table is not on stdout: {}",
        first.stdout
    );
    env.commit_all("ran");
    let again = env.git_ml(&["run", "--no-record"]);
    again.success();
    assert_eq!(
        again.stdout.trim(),
        "50 stages up to date",
        "{}",
        again.stdout
    );
    assert!(again.stderr.lines().count() <= 2, "{}", again.stderr);
    let verbose = env.git_ml(&["-v", "run", "--no-record"]);
    assert!(
        verbose
            .stdout
            .lines()
            .filter(|l| l.contains("up to date"))
            .count()
            >= 50,
        "{}",
        verbose.stdout
    );
    // Nothing to push or check out: one line each.
    let store = env.base.join("store");
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    env.git_ml(&["push", "--no-notes"]).success();
    let push = env.git_ml(&["push", "--no-notes"]);
    assert_eq!(push.stderr.lines().count(), 1, "{}", push.stderr);
    assert!(push.stderr.contains("nothing to push"), "{}", push.stderr);
    let checkout = env.git_ml(&["checkout"]);
    assert_eq!(
        checkout.stderr.trim(),
        "50 paths up to date",
        "{}",
        checkout.stderr
    );
}

#[test]
fn colour_the_git_way() {
    let env = TestEnv::new();
    env.write("a.bin", "1");
    env.git_ml(&["add", "a.bin"]).success();
    env.write("a.bin", "2");
    let coloured = env.git_ml(&["status", "--color=always"]);
    assert!(
        coloured.stdout.contains("\u{1b}[") && coloured.stdout.contains("modified"),
        "{:?}",
        coloured.stdout
    );
    // The harness sets NO_COLOR: a pipe, and NO_COLOR, are plain.
    let plain = env.git_ml(&["status"]);
    assert!(!plain.stdout.contains('\u{1b}'), "{:?}", plain.stdout);
    let forced = env
        .command(BIN, &env.root)
        .arg("status")
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&forced.stdout).contains("\u{1b}["));
    // Under a real terminal (script(1) gives it one): coloured, unless NO_COLOR.
    if which("script") {
        let run = |no_color: bool| {
            let mut c = env.command("script", &env.root);
            c.args(["-qec", &format!("'{BIN}' status"), "/dev/null"]);
            if !no_color {
                c.env_remove("NO_COLOR");
            }
            String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
        };
        assert!(run(false).contains("\u{1b}[3"), "{:?}", run(false));
        assert!(!run(true).contains("\u{1b}[3"), "{:?}", run(true));
        // git's color.ui = never turns it off on a terminal too.
        env.git(&["config", "color.ui", "never"]);
        assert!(!run(false).contains("\u{1b}[3"), "{:?}", run(false));
    }
}

fn which(name: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| std::path::Path::new(d).join(name).is_file())
}

#[test]
fn tables_fit_the_terminal_and_never_cut_in_a_pipe() {
    if !which("script") {
        eprintln!("skipped: no script(1)");
        return;
    }
    let env = TestEnv::new();
    let long = format!(
        "data/{}part-000123.csv",
        "very-long-directory-name/".repeat(6)
    );
    env.write(&long, "x");
    env.git_ml(&["add", &long]).success();
    // A pipe: the whole path, however wide.
    let piped = env.git_ml(&["ls"]);
    assert!(piped.stdout.contains(&long), "{}", piped.stdout);
    // A terminal 80 columns wide: the path elided in the middle, every line within 80 columns.
    let tty = |cmd: &str| {
        let out = env
            .command("script", &env.root)
            .args([
                "-qec",
                &format!("stty cols 80 rows 24; '{BIN}' {cmd}"),
                "/dev/null",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).replace('\r', "")
    };
    for cmd in ["ls", "status --all"] {
        let text = tty(cmd);
        assert!(
            text.contains("part-000123.csv") && text.contains('…'),
            "{cmd}: {text}"
        );
        assert!(!text.contains(&long), "{cmd}: {text}");
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "{cmd}: {line:?} is wider than the terminal"
            );
        }
    }
}

#[test]
fn through_gits_pager_output_is_coloured_and_a_quit_pager_is_no_error() {
    if !which("script") {
        eprintln!("skipped: no script(1)");
        return;
    }
    let env = big();
    env.write("f/0001", "changed");
    // git pages an external subcommand itself when `pager.ml` is set, and only on a terminal.
    let paged = |pager: &str, cmd: &str| {
        let out = env
            .command("script", &env.root)
            .args([
                "-qec",
                &format!(
                    "stty cols 100 rows 24; git -c pager.ml=true -c core.pager='{pager}' ml {cmd}; echo \"rc=$?\""
                ),
                "/dev/null",
            ])
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).replace('\r', "")
    };
    // The pager's input is a pipe, yet git-ml colours it (git sets GIT_PAGER_IN_USE).
    let text = paged("cat", "status");
    assert!(text.contains("\u{1b}[33mmodified"), "{text:?}");
    assert!(text.trim_end().ends_with("rc=1"), "{text:?}");
    // A pager that quits after one byte, before 64 KiB of log: quiet, and git's exit code 0.
    let text = paged("head -c 1", "log");
    assert!(text.trim_end().ends_with("rc=0"), "{text:?}");
    assert!(
        !text.contains("error") && !text.contains("panicked"),
        "{text:?}"
    );
}

#[test]
fn metric_changes_are_coloured_by_direction_never_by_sign() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(
        "\n[metrics]\nfiles = [\"m.json\"]\nlower_is_better = [\"loss\"]\n\n[gates.acc]\nmin = 0.1\n",
    );
    env.write("gitml.toml", toml);
    env.write("m.json", r#"{"acc": 0.9, "loss": 0.5, "epochs": 3}"#);
    env.commit_all("v1");
    env.git_ml(&["record"]).success();
    env.write("m.json", r#"{"acc": 0.8, "loss": 0.4, "epochs": 4}"#);
    env.commit_all("v2");
    env.git_ml(&["record"]).success();
    let out = env.git_ml(&["diff", "HEAD~1", "HEAD", "--color=always"]);
    out.success();
    let line = |name: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} row: {}", out.stdout))
            .to_string()
    };
    let (green, red) = ("\u{1b}[32m", "\u{1b}[1m\u{1b}[31m");
    // acc fell, and its gate says higher is better: red. loss fell, and lower is better: green.
    assert!(
        line("acc").contains(red) || line("acc").contains("\u{1b}[31m"),
        "{:?}",
        line("acc")
    );
    assert!(!line("acc").contains(green), "{:?}", line("acc"));
    assert!(line("loss").contains(green), "{:?}", line("loss"));
    // epochs rose, with no direction anywhere: not coloured at all.
    assert!(!line("epochs").contains('\u{1b}'), "{:?}", line("epochs"));
    // --color=never, and the default in a pipe: no escape codes.
    for args in [
        &["diff", "HEAD~1", "HEAD", "--color=never"][..],
        &["diff", "HEAD~1", "HEAD"],
    ] {
        assert!(!env.git_ml(args).stdout.contains('\u{1b}'));
    }
}
