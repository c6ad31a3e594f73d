//! Precision and recall on the labelled sets in `tests/data/triage/` (see its README), and what
//! one message costs. `cargo test --lib triage::sets -- --nocapture` prints a table per set.
//!
//! Three kinds of set:
//! - training (`labelled.tsv`, `kinds.tsv` … `kinds6.tsv`): the lists were tuned on
//!   them; recall ≥ 0.95 overall, per message and for every category.
//! - spent (`fresh.tsv` … `fresh14.tsv`): written as held out, scored once, then read to fix
//!   their misses; kept as regression sets at the fresh-set bar.
//! - held out: every other `*.tsv` in the folder (`fresh7.tsv`, `fresh8.tsv`, …), found when the
//!   test runs, so adding a file is all it takes. Scored, never read, never trained on (the
//!   model is trained on `model::TRAINING_SETS` only); printed, not asserted. Their rows are not
//!   printed unless `TRIAGE_SHOW_MISSES=1`: once someone reads them to fix them, the set is spent
//!   (add it to the spent tests and to `TRAINING_SETS`, write a new one).
//!
//! All the sets train the n-gram model (`model.rs`); `leave_one_set_out` (in `sets/loo.rs`)
//! measures it honestly, training on every set but one and scoring that one.

use std::time::Instant;

use super::assess::assess_lists;
use super::model::TRAINING_SETS;
use super::tests::builtin;
use super::{Category, assess};

mod loo;

macro_rules! set {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/triage/",
                $name
            )),
        )
    };
}

/// Every set the model is trained on, with its text (the same list as `TRAINING_SETS`; a test
/// checks that).
const SETS: &[(&str, &str)] = &[
    set!("labelled.tsv"),
    set!("kinds.tsv"),
    set!("kinds2.tsv"),
    set!("kinds3.tsv"),
    set!("fresh.tsv"),
    set!("fresh2.tsv"),
    set!("fresh3.tsv"),
    set!("fresh4.tsv"),
    set!("fresh5.tsv"),
    set!("fresh6.tsv"),
    set!("fresh7.tsv"),
    set!("fresh8.tsv"),
    set!("kinds4.tsv"),
    set!("fresh9.tsv"),
    set!("fresh10.tsv"),
    set!("kinds5.tsv"),
    set!("fresh11.tsv"),
    set!("fresh12.tsv"),
    set!("fresh13.tsv"),
    set!("fresh14.tsv"),
    set!("kinds6.tsv"),
];

fn set_text(name: &str) -> &'static str {
    SETS.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("{name} is not in SETS"))
}

type Row<'a> = (&'a str, Vec<Category>);

/// Reads `text<TAB>labels` lines; `labels` is `none` or a comma list of category names.
fn rows<'a>(name: &str, tsv: &'a str) -> Vec<Row<'a>> {
    tsv.lines()
        .enumerate()
        .filter(|(i, l)| !(l.is_empty() || l.starts_with('#') || (*i == 0 && *l == "text\tlabels")))
        .map(|(i, l)| {
            let (text, labels) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("{name} line {}: no tab", i + 1));
            let mut labels: Vec<Category> = if labels == "none" {
                Vec::new()
            } else {
                labels
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse()
                            .unwrap_or_else(|e| panic!("{name} line {}: {e}", i + 1))
                    })
                    .collect()
            };
            labels.sort_unstable();
            labels.dedup();
            (text, labels)
        })
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn add(&mut self, expected: bool, got: bool) {
        match (expected, got) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => {}
        }
    }
    fn precision(self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

struct Score {
    per: [Counts; 4],
    /// Micro-average over the four categories.
    overall: Counts,
    /// Per message: flagged at all, whatever the category.
    urgent: Counts,
    table: String,
}

fn names(v: &[Category]) -> String {
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
    }
}

/// Scores the built-in lists on `rows` and renders the table, the cost per message and, when
/// `show_mismatches`, every row the lists get wrong.
fn score(name: &str, rows: &[Row], show_mismatches: bool) -> Score {
    let lists = builtin();
    score_with(name, rows, show_mismatches, &|t| {
        assess(t, lists).categories
    })
}

/// [`score`] with another way of judging a message (the lists alone, or a model trained
/// without the set).
fn score_with(
    name: &str,
    rows: &[Row],
    show_mismatches: bool,
    judge: &dyn Fn(&str) -> Vec<Category>,
) -> Score {
    let mut per = [Counts::default(); 4];
    let mut urgent = Counts::default();
    let mut mismatches = String::new();
    for (text, expected) in rows {
        let got = judge(text);
        for (i, c) in Category::ALL.into_iter().enumerate() {
            per[i].add(expected.contains(&c), got.contains(&c));
        }
        urgent.add(!expected.is_empty(), !got.is_empty());
        if got != *expected {
            mismatches.push_str(&format!(
                "  expected {:<40} got {:<40} {text}\n",
                names(expected),
                names(&got)
            ));
        }
    }
    let overall = per.iter().fold(Counts::default(), |a, c| Counts {
        tp: a.tp + c.tp,
        fp: a.fp + c.fp,
        fn_: a.fn_ + c.fn_,
    });

    // Cost: every row assessed a few times over; a debug build unless run with --release.
    const PASSES: usize = 5;
    let started = Instant::now();
    for _ in 0..PASSES {
        for (text, _) in rows {
            std::hint::black_box(judge(std::hint::black_box(text)));
        }
    }
    let micros = started.elapsed().as_secs_f64() * 1e6 / (PASSES * rows.len().max(1)) as f64;
    let chars = rows.iter().map(|(t, _)| t.chars().count()).sum::<usize>() / rows.len().max(1);

    let positives = rows.iter().filter(|(_, l)| !l.is_empty()).count();
    let mut table = format!(
        "triage on {name}: {} messages ({positives} with a category, {} without)\n\
         {:<22} {:>5} {:>5} {:>5} {:>9} {:>9}\n",
        rows.len(),
        rows.len() - positives,
        "category",
        "tp",
        "fp",
        "fn",
        "precision",
        "recall"
    );
    let mut line = |label: &str, c: Counts| {
        table.push_str(&format!(
            "{label:<22} {:>5} {:>5} {:>5} {:>9.3} {:>9.3}\n",
            c.tp,
            c.fp,
            c.fn_,
            c.precision(),
            c.recall()
        ));
    };
    for (i, c) in Category::ALL.into_iter().enumerate() {
        line(c.as_str(), per[i]);
    }
    line("overall (micro)", overall);
    line("urgent (any)", urgent);
    table.push_str(&format!(
        "assess: {micros:.1} µs per message ({chars} characters on average, {} build)\n",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    ));
    if show_mismatches {
        table.push_str("mismatches:\n");
        table.push_str(&mismatches);
    } else {
        table.push_str(&format!(
            "mismatches: {} rows, not shown (TRIAGE_SHOW_MISSES=1 shows them and spends the set)\n",
            rows.iter().filter(|(t, e)| judge(t) != *e).count()
        ));
    }
    Score {
        per,
        overall,
        urgent,
        table,
    }
}

/// A set the lists were tuned on: recall ≥ 0.95 overall, per message and for every category.
fn check_training_set(name: &str, min_rows: usize) {
    let rows = rows(name, set_text(name));
    assert!(rows.len() >= min_rows, "{name}: only {} rows", rows.len());
    let s = score(name, &rows, true);
    println!("{}", s.table);
    let too_low: Vec<&str> = Category::ALL
        .into_iter()
        .zip(s.per)
        .filter(|(_, c)| c.recall() < 0.95)
        .map(|(c, _)| c.as_str())
        .collect();
    assert!(
        s.overall.recall() >= 0.95 && s.urgent.recall() >= 0.95 && too_low.is_empty(),
        "{name}: recall below 0.95 (categories: {too_low:?})\n{}",
        s.table
    );
}

/// The target on text the lists were not tuned on (issue 10, point 22): recall ≥ 0.90, overall
/// and per message, with at most one false alarm in ten flags. A false alarm is a message
/// flagged that needed no flag, so precision is counted per message; the micro precision over
/// categories (which also counts 緊急 added to an urgent message) is printed beside it.
fn meets_fresh_target(s: &Score) -> bool {
    s.overall.recall() >= 0.90 && s.urgent.recall() >= 0.90 && s.urgent.precision() >= 0.90
}

/// A set written as held out and then read to fix its misses: no longer an estimate of anything,
/// kept as a regression set at the fresh-set bar, with its mismatches shown.
fn check_spent_set(name: &str, min_rows: usize) {
    let rows = rows(name, set_text(name));
    assert!(rows.len() >= min_rows, "{name}: only {} rows", rows.len());
    let s = score(name, &rows, true);
    println!("(spent: read and tuned on)\n{}", s.table);
    assert!(
        meets_fresh_target(&s),
        "{name}: below recall 0.90 / precision 0.90 per message\n{}",
        s.table
    );
}

#[test]
fn labelled_set_precision_and_recall() {
    check_training_set("labelled.tsv", 220);
}

#[test]
fn kinds_set_precision_and_recall() {
    check_training_set("kinds.tsv", 150);
}

#[test]
fn second_kinds_set_precision_and_recall() {
    check_training_set("kinds2.tsv", 90);
}

#[test]
fn third_kinds_set_precision_and_recall() {
    check_training_set("kinds3.tsv", 40);
}

#[test]
fn fourth_kinds_set_precision_and_recall() {
    check_training_set("kinds4.tsv", 30);
}

#[test]
fn fifth_kinds_set_precision_and_recall() {
    check_training_set("kinds5.tsv", 100);
}

#[test]
fn sixth_kinds_set_precision_and_recall() {
    check_training_set("kinds6.tsv", 60);
}

#[test]
fn spent_fresh_sets_precision_and_recall() {
    for (name, min_rows) in [
        ("fresh.tsv", 120),
        ("fresh2.tsv", 60),
        ("fresh3.tsv", 60),
        ("fresh4.tsv", 80),
        ("fresh5.tsv", 80),
        ("fresh6.tsv", 55),
        ("fresh7.tsv", 80),
        ("fresh8.tsv", 80),
        ("fresh9.tsv", 80),
        ("fresh10.tsv", 80),
        ("fresh11.tsv", 80),
        ("fresh12.tsv", 80),
        ("fresh13.tsv", 80),
        ("fresh14.tsv", 80),
    ] {
        check_spent_set(name, min_rows);
    }
}

#[test]
fn the_sets_here_are_the_sets_trained_on() {
    let here: Vec<&str> = SETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(here, TRAINING_SETS);
}

/// Every `*.tsv` in the folder that the model is not trained on, by name: the held-out sets.
/// Read when the test runs (not compiled in), so a new set needs no line of code.
fn held_out_sets() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/triage");
    let mut sets: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("tests/data/triage")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let held = name.ends_with(".tsv") && !TRAINING_SETS.contains(&name.as_str());
            held.then(|| {
                let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("a set");
                (name, text)
            })
        })
        .collect();
    sets.sort();
    sets
}

#[test]
fn held_out_sets_precision_and_recall() {
    // Not asserted: a held-out set estimates; it is not a bar the lists are tuned to.
    let show = std::env::var_os("TRIAGE_SHOW_MISSES").is_some_and(|v| v == "1");
    let sets = held_out_sets();
    if sets.is_empty() {
        println!("no held-out set in tests/data/triage/ (every *.tsv is trained on)");
    }
    for (name, text) in &sets {
        let rows = rows(name, text);
        assert!(rows.len() >= 10, "{name}: only {} rows", rows.len());
        let s = score(name, &rows, show);
        println!("(held out: not read, not tuned on)\n{}", s.table);
        let lists = builtin();
        let l = score_with(name, &rows, show, &|t| assess_lists(t, lists).categories);
        println!("(the same, lists alone)\n{}", l.table);
    }
}
