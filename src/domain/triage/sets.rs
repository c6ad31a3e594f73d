//! Precision and recall on the labelled sets in `tests/data/triage/` (see its README), and what
//! one message costs. `cargo test --lib triage::sets -- --nocapture` prints a table per set.
//!
//! Three kinds of set:
//! - training (`labelled.tsv`, `kinds.tsv`, `kinds2.tsv`): the lists were tuned on them; recall
//!   ≥ 0.95 overall, per message and for every category.
//! - spent (`fresh.tsv`, `fresh2.tsv`, `fresh3.tsv`): written as held out, scored once, then read
//!   to fix their misses; kept as regression sets at the fresh-set bar.
//! - held out (`fresh6.tsv`; `fresh4.tsv` and `fresh5.tsv`, written blind by another hand):
//!   scored, never read; the target is recall ≥ 0.90 and precision ≥ 0.90 per message, not met
//!   yet, so it is printed rather than asserted. Their rows are not printed unless `TRIAGE_SHOW_MISSES=1`: once someone reads them to fix them, the set is spent
//!   (move it to the spent tests, write a new one).

use std::time::Instant;

use super::tests::builtin;
use super::{Category, assess};

const LABELLED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/triage/labelled.tsv"
));
const KINDS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/triage/kinds.tsv"
));
const KINDS2: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/triage/kinds2.tsv"
));
const FRESH: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/triage/fresh.tsv"
));

const FRESH2: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/triage/fresh2.tsv"
));

const FRESH3: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/triage/fresh3.tsv"
));

const FRESH6: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/triage/fresh6.tsv"
));

/// Written by someone who never saw the lists, rules or other sets (only the labels' README),
/// after the second round and before the third: the most honest estimate there is.
const BLIND4: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/triage/fresh4.tsv"
));
const BLIND5: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/triage/fresh5.tsv"
));

type Row = (&'static str, Vec<Category>);

/// Reads `text<TAB>labels` lines; `labels` is `none` or a comma list of category names.
fn rows(name: &str, tsv: &'static str) -> Vec<Row> {
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
    let mut per = [Counts::default(); 4];
    let mut urgent = Counts::default();
    let mut mismatches = String::new();
    for (text, expected) in rows {
        let got = assess(text, lists).categories;
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
            std::hint::black_box(assess(std::hint::black_box(text), lists));
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
            rows.iter()
                .filter(|(t, e)| assess(t, lists).categories != *e)
                .count()
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
fn check_training_set(name: &str, tsv: &'static str, min_rows: usize) {
    let rows = rows(name, tsv);
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
fn check_spent_set(name: &str, tsv: &'static str, min_rows: usize) {
    let rows = rows(name, tsv);
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
    check_training_set("labelled.tsv", LABELLED, 220);
}

#[test]
fn kinds_set_precision_and_recall() {
    check_training_set("kinds.tsv", KINDS, 150);
}

#[test]
fn second_kinds_set_precision_and_recall() {
    check_training_set("kinds2.tsv", KINDS2, 90);
}

#[test]
fn spent_fresh_set_precision_and_recall() {
    check_spent_set("fresh.tsv", FRESH, 120);
}

#[test]
fn spent_second_fresh_set_precision_and_recall() {
    check_spent_set("fresh2.tsv", FRESH2, 60);
}

#[test]
fn spent_third_fresh_set_precision_and_recall() {
    check_spent_set("fresh3.tsv", FRESH3, 60);
}

/// A held-out set: scored with its rows hidden unless `TRIAGE_SHOW_MISSES=1` (which spends it).
fn score_held_out(name: &str, tsv: &'static str, min_rows: usize) -> Score {
    let rows = rows(name, tsv);
    assert!(rows.len() >= min_rows, "{name}: only {} rows", rows.len());
    let show = std::env::var_os("TRIAGE_SHOW_MISSES").is_some_and(|v| v == "1");
    let s = score(name, &rows, show);
    println!("(held out: not read, not tuned on)\n{}", s.table);
    s
}

#[test]
fn held_out_sixth_fresh_set_precision_and_recall() {
    // Not yet at the target (recall and precision 0.90 per message): printed, not asserted.
    score_held_out("fresh6.tsv", FRESH6, 55);
}

#[test]
fn blind_held_out_sets_precision_and_recall() {
    // Written blind by another hand; far from the target (recall and precision 0.90 per
    // message), so printed, not asserted. The row counts guard against a cut file.
    score_held_out("fresh4.tsv", BLIND4, 80);
    score_held_out("fresh5.tsv", BLIND5, 80);
}
