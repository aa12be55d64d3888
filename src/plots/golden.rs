//! Golden snapshots of what each plot kind renders to (SVG, Markdown, JSON), from small files
//! parsed the way `git ml plots` parses them. `INSTA_UPDATE=always cargo test --lib golden`
//! rewrites them after an intended change; review the diff.

use super::config::Settings;
use super::parse::{Format, parse};
use super::{Image, Kind, Plot, PlotRev, Report, Revision, Warning, html, markdown, series, svg};

const PLACE: &str = "gitml.toml:1 [plots.p]";

fn revisions(names: &[&str]) -> Vec<Revision> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| Revision {
            rev: n.to_string(),
            commit: (*n != "workspace")
                .then(|| format!("{i}{}", "abcdef0123".repeat(4))[..40].to_string()),
        })
        .collect()
}

fn empty_rev(r: &Revision, index: usize) -> PlotRev {
    PlotRev {
        rev: r.rev.clone(),
        commit: r.commit.clone(),
        series: None,
        matrix: None,
        image: None,
        missing: false,
        note: None,
        error: None,
        hint: None,
        index,
    }
}

/// A plot from one file text per revision (`None`: missing there), as `build` would make it.
fn plot(
    name: &str,
    path: &str,
    settings: Settings,
    revs: &[Revision],
    texts: &[Option<&str>],
) -> Plot {
    let format = Format::of(path).expect("series file");
    let tables: Vec<_> = texts
        .iter()
        .map(|t| t.map(|t| parse(t.as_bytes(), format).expect("parses")))
        .collect();
    let newest = tables.iter().rev().flatten().next().expect("one table");
    let fields = series::infer(newest, &settings, path, PLACE).expect("fields");
    let mut out = Vec::new();
    for (i, (r, t)) in revs.iter().zip(&tables).enumerate() {
        let mut pr = empty_rev(r, i);
        match t {
            None => pr.missing = true,
            Some(t) if fields.kind == Kind::Confusion => {
                pr.matrix = Some(series::matrix(t, &fields, PLACE).expect("matrix"))
            }
            Some(t) => pr.series = Some(series::series(t, &fields, PLACE).expect("series")),
        }
        out.push(pr);
    }
    Plot {
        name: name.into(),
        kind: fields.kind,
        path: path.into(),
        title: settings.title.clone().unwrap_or_else(|| name.into()),
        x_label: settings
            .x_label
            .clone()
            .or(fields.x.clone())
            .unwrap_or_else(|| "record".into()),
        y_label: settings
            .y_label
            .clone()
            .unwrap_or_else(|| fields.y.join(", ")),
        x: fields.x,
        y: fields.y,
        revisions: out,
    }
}

fn roc() -> (Vec<Revision>, Plot) {
    let revs = revisions(&["main", "workspace"]);
    let old = r#"[{"fpr": 0, "tpr": 0, "threshold": 1}, {"fpr": 0.1, "tpr": 0.5, "threshold": 0.8}, {"fpr": 0.5, "tpr": 0.8, "threshold": 0.4}, {"fpr": 1, "tpr": 1, "threshold": 0}]"#;
    let new = r#"{"roc": [{"fpr": 0, "tpr": 0, "threshold": 1}, {"fpr": 0.1, "tpr": 0.7, "threshold": 0.8}, {"fpr": 0.4, "tpr": 0.9, "threshold": NaN}, {"fpr": 1, "tpr": 1, "threshold": 0}]}"#;
    let settings = Settings {
        x: Some("fpr".into()),
        y: vec!["tpr".into()],
        title: Some("ROC curve".into()),
        x_label: Some("False positive rate".into()),
        y_label: Some("True positive rate".into()),
        ..Default::default()
    };
    let p = plot(
        "roc",
        "eval/plots/roc.json",
        settings,
        &revs,
        &[Some(old), Some(new)],
    );
    (revs, p)
}

fn training() -> (Vec<Revision>, Plot) {
    let revs = revisions(&["HEAD~1", "HEAD"]);
    let old = "step,train_loss,val_loss\n0,1.0,1.1\n1,0.6,0.8\n2,0.4,0.7\n";
    let new = "step,train_loss,val_loss\n0,0.9,1.0\n1,0.5,0.7\n2,0.3,0.6\n3,0.2,NaN\n4,0.15,0.55\n";
    let settings = Settings {
        y: vec!["train_loss".into(), "val_loss".into()],
        ..Default::default()
    };
    let p = plot(
        "loss",
        "train/loss.csv",
        settings,
        &revs,
        &[Some(old), Some(new)],
    );
    (revs, p)
}

fn scatter() -> (Vec<Revision>, Plot) {
    let revs = revisions(&["v1", "v2"]);
    let new = "- {predicted: 1.0, actual_value: 1.2}\n- {predicted: 2.0, actual_value: 1.8}\n- {predicted: 3.0, actual_value: 3.3}\n";
    let settings = Settings {
        kind: Some(Kind::Scatter),
        x: Some("predicted".into()),
        y: vec!["actual_value".into()],
        ..Default::default()
    };
    let p = plot(
        "residuals",
        "eval/residuals.yaml",
        settings,
        &revs,
        &[None, Some(new)],
    );
    (revs, p)
}

fn confusion() -> (Vec<Revision>, Plot) {
    let revs = revisions(&["main", "workspace"]);
    let old = r#"[{"actual": "cat", "predicted": "cat"}, {"actual": "cat", "predicted": "dog"}, {"actual": "dog", "predicted": "dog"}]"#;
    let new = r#"[{"actual": "cat", "predicted": "cat"}, {"actual": "cat", "predicted": "cat"}, {"actual": "dog", "predicted": "dog"}, {"actual": "bird", "predicted": "dog"}]"#;
    let p = plot(
        "confusion",
        "eval/plots/confusion.json",
        Settings::default(),
        &revs,
        &[Some(old), Some(new)],
    );
    (revs, p)
}

fn image() -> (Vec<Revision>, Plot) {
    let revs = revisions(&["main", "workspace"]);
    let mut old = empty_rev(&revs[0], 0);
    old.image = Some(Image {
        oid: crate::Oid::of(b"old png").to_string(),
        size: 2048,
    });
    let mut new = empty_rev(&revs[1], 1);
    new.error = Some("is 70000000 bytes, more than the 64 MiB limit for plot files".into());
    new.hint = Some("write fewer points".into());
    let p = Plot {
        name: "eval/plots/cm.png".into(),
        kind: Kind::Image,
        path: "eval/plots/cm.png".into(),
        title: "eval/plots/cm.png".into(),
        x: None,
        y: vec![],
        x_label: "record".into(),
        y_label: String::new(),
        revisions: vec![old, new],
    };
    (revs, p)
}

/// Every string a repository controls, made hostile.
fn hostile() -> (Vec<Revision>, Plot) {
    let revs = vec![
        Revision {
            rev: "@octocat|`x`".into(),
            commit: Some("1".repeat(40)),
        },
        Revision {
            rev: "workspace".into(),
            commit: None,
        },
    ];
    let text = "\"a\"\"b`</svg>\",\"@team | <img src=x onerror=alert(1)>\"\n\"<b>1</b>\",0.5\n\"x\ny\",0.7\n";
    let settings = Settings {
        title: Some("</svg><script>alert(1)</script> \"quoted\"\n```\n@here".into()),
        ..Default::default()
    };
    let p = plot(
        "x",
        "eval/<evil>|`.csv",
        settings,
        &revs,
        &[Some(text), Some(text)],
    );
    (revs, p)
}

fn json(plot: &Plot, revs: &[Revision]) -> String {
    serde_json::to_string_pretty(&Report {
        revisions: revs.to_vec(),
        plots: vec![plot.clone()],
        warnings: vec![Warning {
            message: "`eval/plots/roc.json` at workspace: 1 point of `threshold` with NaN or infinity skipped".into(),
        }],
    })
    .expect("serialises")
}

#[test]
fn line_roc() {
    let (revs, p) = roc();
    insta::assert_snapshot!("roc_svg", svg::chart(&p, &revs, false).expect("drawn"));
    insta::assert_snapshot!("roc_md", markdown::section(&p, &revs));
    insta::assert_snapshot!("roc_json", json(&p, &revs));
}

#[test]
fn line_two_fields() {
    let (revs, p) = training();
    insta::assert_snapshot!("training_svg", svg::chart(&p, &revs, false).expect("drawn"));
    insta::assert_snapshot!("training_md", markdown::section(&p, &revs));
}

#[test]
fn scatter_with_a_missing_side() {
    let (revs, p) = scatter();
    insta::assert_snapshot!("scatter_svg", svg::chart(&p, &revs, true).expect("drawn"));
    insta::assert_snapshot!("scatter_md", markdown::section(&p, &revs));
    insta::assert_snapshot!("scatter_json", json(&p, &revs));
}

#[test]
fn confusion_matrix() {
    let (revs, p) = confusion();
    assert_eq!(p.kind, Kind::Confusion);
    let mut page = String::new();
    html_section(&mut page, &p, &revs);
    insta::assert_snapshot!("confusion_html", page);
    insta::assert_snapshot!("confusion_md", markdown::section(&p, &revs));
    insta::assert_snapshot!("confusion_json", json(&p, &revs));
}

#[test]
fn image_list() {
    let (revs, p) = image();
    let mut page = String::new();
    html_section(&mut page, &p, &revs);
    insta::assert_snapshot!("image_html", page);
    insta::assert_snapshot!("image_md", markdown::section(&p, &revs));
    insta::assert_snapshot!("image_json", json(&p, &revs));
}

#[test]
fn hostile_strings_are_escaped() {
    let (revs, p) = hostile();
    let page = html::page(&Report {
        revisions: revs.clone(),
        plots: vec![p.clone()],
        warnings: vec![],
    });
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(!page.contains("</svg><"), "{page}");
    let md = markdown::section(&p, &revs);
    // No mention outside the Mermaid block (GitHub does not look for mentions in code blocks).
    for (i, part) in md.split("```").enumerate() {
        if i % 2 == 0 {
            for (at, _) in part.match_indices('@') {
                assert!(part[at + 1..].starts_with("&#8203;"), "{md}");
            }
        }
    }
    // Exactly one fence opens and one closes: nothing from the file ended the Mermaid block.
    assert_eq!(md.matches("```").count(), 2, "{md}");
    insta::assert_snapshot!("hostile_md", md);
    insta::assert_snapshot!("hostile_svg", svg::chart(&p, &revs, false).expect("drawn"));
}

fn html_section(out: &mut String, p: &Plot, revs: &[Revision]) {
    let page = html::page(&Report {
        revisions: revs.to_vec(),
        plots: vec![p.clone()],
        warnings: vec![],
    });
    let start = page.find("<section>").expect("a section");
    let end = page.find("</section>").expect("its end") + "</section>".len();
    out.push_str(&page[start..end]);
}

use proptest::strategy::Strategy;

proptest::proptest! {
    /// Any finite points (huge, tiny, equal, one) render without panicking, and Mermaid gets
    /// plain numbers only.
    #[test]
    fn renderers_never_panic(
        pts in proptest::collection::vec(
            (proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL,
             proptest::num::f64::NORMAL | proptest::num::f64::ZERO),
            1..30,
        ).prop_map(|mut v| {
            // Always include the extremes of the range in some cases.
            if v.len() > 3 {
                v[0] = (-f64::MAX, f64::MAX);
                v[1] = (f64::MAX, -f64::MAX);
            }
            v
        }),
        categorical in proptest::bool::ANY,
    ) {
        let revs = revisions(&["a", "workspace"]);
        let points: Vec<series::Point> = pts
            .iter()
            .map(|&(x, y)| {
                let x = if categorical {
                    series::X::Label(format!("c{}", x.to_bits() % 7).into())
                } else {
                    series::X::Num(x)
                };
                series::Point(x, y)
            })
            .collect();
        let mut revisions_out = Vec::new();
        for (i, r) in revs.iter().enumerate() {
            let mut pr = empty_rev(r, i);
            pr.series = Some(vec![series::Series {
                field: "y".into(),
                points: points.clone(),
                total: points.len(),
                skipped_missing: 0,
                skipped_non_finite: 0,
            }]);
            revisions_out.push(pr);
        }
        let p = Plot {
            name: "p".into(),
            kind: Kind::Line,
            path: "p.json".into(),
            title: "p".into(),
            x: Some("x".into()),
            y: vec!["y".into()],
            x_label: "x".into(),
            y_label: "y".into(),
            revisions: revisions_out,
        };
        let chart = svg::chart(&p, &revs, false).expect("drawn");
        proptest::prop_assert!(!chart.contains("NaN") && !chart.contains("inf"));
        let md = markdown::section(&p, &revs);
        for line in md.lines().filter(|l| l.trim_start().starts_with("line [")) {
            proptest::prop_assert!(
                line.trim().trim_start_matches("line [").trim_end_matches(']').split(", ").all(|n| n.parse::<f64>().is_ok() && !n.contains('e')),
                "{}", line
            );
        }
    }
}

#[test]
fn markdown_fits_a_comment() {
    let (revs, p) = training();
    let plots: Vec<Plot> = (0..400)
        .map(|i| Plot {
            name: format!("loss{i}"),
            ..p.clone()
        })
        .collect();
    let report = Report {
        revisions: revs,
        plots,
        warnings: vec![Warning {
            message: "w".into(),
        }],
    };
    let md = markdown::document(&report);
    assert!(md.len() <= markdown::LIMIT, "{} bytes", md.len());
    let shown = md.matches("```mermaid").count();
    assert!(shown > 10 && shown < 400, "{shown} charts");
    assert!(
        md.contains(&format!("_{} more plots left out", 400 - shown)),
        "{}",
        &md[md.len() - 300..]
    );
    // Fences stay balanced however much was cut.
    assert_eq!(md.matches("```").count() % 2, 0);
}

#[test]
fn large_confusion_matrices_are_left_to_html() {
    let revs = revisions(&["workspace"]);
    let mut text = String::from("actual,predicted\n");
    for i in 0..25 {
        text.push_str(&format!("c{i},c{}\n", (i + 1) % 25));
    }
    let p = plot("cm", "cm.csv", Settings::default(), &revs, &[Some(&text)]);
    let md = markdown::section(&p, &revs);
    assert!(md.contains("25 classes: too many for a table here"), "{md}");
    assert!(!md.contains("| c0 |"), "{md}");
}
