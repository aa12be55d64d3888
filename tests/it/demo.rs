//! `git ml demo`: the whole story on the real example project, asserted on its transcript — the
//! stages that ran, the diff values, the verdict, the promoted version, the pulled files.

use std::path::Path;

use crate::common::{BIN, TestEnv};

fn demo(env: &TestEnv, path: &str) -> (std::process::Output, serde_json::Value) {
    let dir = env.base.join("demo");
    let out = env
        .command(BIN, &env.base)
        .args(["demo", dir.to_str().unwrap(), "--json"])
        .env("PATH", path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let start = text.find("\n{").map(|i| i + 1).unwrap_or(0);
    let json = serde_json::from_str(&text[start..]).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}):\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, json)
}

fn transcript(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_demo_tells_the_whole_story() {
    let env = TestEnv::bare_repo();
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/bin");
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", tools.display());
    let (out, j) = demo(&env, &path);
    let t = transcript(&out);
    assert!(
        out.status.success(),
        "{t}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        t.contains("[ 3] run the pipeline: prepare ran, train ran, evaluate ran"),
        "{t}"
    );
    assert!(
        t.contains("[ 4] branch, change a param, run: prepare skipped, train ran, evaluate ran"),
        "{t}"
    );
    assert!(t.contains("train restored, evaluate restored"), "{t}");
    assert!(
        t.contains("accuracy 0.947368 -> 0.964912; gates: PASS"),
        "{t}"
    );
    assert!(
        t.contains("registered tumor-classifier@v0.1.0 with the branch's runs"),
        "{t}"
    );
    assert!(t.contains("identical"), "{t}");
    assert_eq!(j["verdict"], "pass");
    assert_eq!(j["baseline_accuracy"], 0.947368);
    assert_eq!(j["new_accuracy"], 0.964912);
    assert_eq!(j["registered"], "tumor-classifier@v0.1.0");
    assert!(
        j["production"]
            .as_str()
            .unwrap()
            .starts_with("tumor-classifier#production#")
    );
    assert_eq!(j["clone_matches"], true);
    let pulled = j["pulled"].as_array().unwrap();
    assert_eq!(pulled.len(), 3);
    for p in pulled {
        assert!(p[1].as_str().unwrap().starts_with("blake3:"), "{p}");
    }
    let md = std::fs::read_to_string(j["report_md"].as_str().unwrap()).unwrap();
    assert!(
        md.contains("**Gates: PASS**") && md.contains("xychart-beta"),
        "{md}"
    );
    let html = std::fs::read_to_string(j["report_html"].as_str().unwrap()).unwrap();
    assert!(html.contains("<svg"), "{html}");
    // The directory must be new: a second run refuses to write into it.
    let again = env
        .command(BIN, &env.base)
        .args(["demo", env.base.join("demo").to_str().unwrap()])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

#[test]
fn without_scikit_learn_the_demo_makes_a_venv_from_pypi() {
    let env = TestEnv::bare_repo();
    // The machine's python3 (no scikit-learn), and git.
    let bin = env.base.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let candidates = [
        "/usr/bin/python3".to_string(),
        "/usr/local/bin/python3".to_string(),
    ];
    let on_path = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| format!("{d}/python3"))
        .collect::<Vec<_>>();
    let system = candidates.iter().chain(&on_path).find(|p| {
        Path::new(p).is_file()
            && !std::process::Command::new(p)
                .args(["-c", "import sklearn"])
                .status()
                .is_ok_and(|s| s.success())
    });
    let Some(python) = system else {
        panic!("no python3 without scikit-learn on this machine to test the venv path with");
    };
    std::os::unix::fs::symlink(python, bin.join("python3")).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let (out, j) = demo(&env, &path);
    let t = transcript(&out);
    assert!(
        out.status.success(),
        "{t}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t.contains("making a venv in"), "{t}");
    assert!(
        j["python"].as_str().unwrap().contains("a venv made in"),
        "{j}"
    );
    assert_eq!(j["verdict"], "pass");
}
