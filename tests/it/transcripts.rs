//! Transcripts: what a user sees at the terminal, where the output itself is the contract,
//! kept as insta snapshots under `tests/it/snapshots/` (as jj does). A change to any of these
//! outputs shows up as a diff to review; `INSTA_UPDATE=always` (or `cargo insta review`)
//! accepts it. Temporary paths and durations are masked; commit hashes are stable because
//! the harness fixes the author and committer dates.

use crate::common::{TestEnv, bytes};

/// Runs each command and writes a transcript: the command line, its stdout, its stderr (each
/// line marked `! `), and its exit code when it is not 0.
fn transcript(env: &TestEnv, commands: &[&[&str]]) -> String {
    let mut out = String::new();
    for args in commands {
        let r = env.git_ml(args);
        out.push_str(&format!("$ git ml {}\n", args.join(" ")));
        out.push_str(&r.stdout);
        for line in r.stderr.lines() {
            out.push_str(&format!("! {line}\n"));
        }
        if r.code != 0 {
            out.push_str(&format!("[exit {}]\n", r.code));
        }
        out.push('\n');
    }
    mask(&out, env)
}

/// Temporary paths become `[TMP]`; a number followed by ` s` or ` ms` becomes `[T]`.
fn mask(text: &str, env: &TestEnv) -> String {
    let text = text.replace(&env.base.display().to_string(), "[TMP]");
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_number =
            chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric());
        if starts_number {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            let rest: String = chars[j..chars.len().min(j + 4)].iter().collect();
            let unit = [" s;", " s\n", " s)", " s ", " ms"]
                .iter()
                .any(|u| rest.starts_with(u));
            if unit {
                out.push_str("[T]");
                i = j;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[test]
fn transcript_tracking_data() {
    let env = TestEnv::new();
    env.write("data/train.csv", "a,b\n1,2\n");
    env.write("data/test.csv", "a,b\n3,4\n");
    env.write("model.bin", bytes(1, 4096));
    let before = transcript(&env, &[&["add", "data", "model.bin"], &["status"], &["ls"]]);
    env.commit_all("data");
    env.write("data/train.csv", "a,b\n1,2\n5,6\n");
    std::fs::remove_file(env.path("model.bin")).unwrap();
    let after = transcript(
        &env,
        &[&["status"], &["checkout", "model.bin"], &["status"]],
    );
    insta::assert_snapshot!("tracking_data", format!("{before}{after}"));
}

#[test]
fn transcript_results_between_branches() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(concat!(
        "\n[metrics]\nfiles = [\"metrics.json\"]\nhigher_is_better = [\"acc\"]\n",
        "\n[params]\nfiles = [\"params.yaml\"]\n",
        "\n[gates.acc]\nmin = 0.8\nmax_drop = \"2%\"\n",
    ));
    env.write("gitml.toml", toml);
    env.write("params.yaml", "lr: 0.1\nepochs: 10\n");
    env.write("metrics.json", r#"{"acc": 0.90, "loss": 0.30}"#);
    env.commit_all("baseline");
    env.git(&["checkout", "-q", "-b", "faster"]);
    env.write("params.yaml", "lr: 0.5\nepochs: 10\n");
    env.write("metrics.json", r#"{"acc": 0.85, "loss": 0.41}"#);
    env.commit_all("raise the learning rate");
    let t = transcript(
        &env,
        &[
            &["diff", "main", "faster"],
            &["diff", "main", "faster", "--md"],
            &["check", "--base", "main"],
            &["log", "--metric", "acc"],
            &["export", "--metric", "acc"],
            &["export", "--format", "csv", "--metric", "acc"],
        ],
    );
    insta::assert_snapshot!("results_between_branches", t);
}

#[test]
fn transcript_remotes() {
    let env = TestEnv::new();
    let t = transcript(
        &env,
        &[
            &["remote", "list"],
            &["remote", "add", "store", "/srv/gitml"],
            &[
                "remote",
                "add",
                "s3",
                "s3://ml-data/team",
                "--endpoint",
                "http://127.0.0.1:9",
            ],
            &[
                "remote",
                "add",
                "az",
                "az://models/x",
                "--account",
                "mlstorage",
            ],
            &["remote", "list"],
            &[
                "remote",
                "add",
                "leak",
                "https://user:hunter2@example.com/data",
            ],
            &["push", "-r", "nope"],
        ],
    );
    // The password is in the command line the transcript echoes, and nowhere else.
    assert_eq!(t.matches("hunter2").count(), 1, "{t}");
    insta::assert_snapshot!("remotes", t);
}
