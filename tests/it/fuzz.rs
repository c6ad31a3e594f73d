//! The fuzzers' findings, replayed without cargo-fuzz: every input that once failed
//! (`tests/data/fuzz/<target>/`) and the corpus they grew (`fuzz/corpus/<target>/`), each
//! through the very function its fuzz target calls. A failure names the file.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use diesel::prelude::*;
use madoguchi::db::schema::{consulters, messages, tickets};
use madoguchi::fuzzing::TARGETS;
use madoguchi::intake::Outcome;
use madoguchi::intake::mail as store;

use crate::both_backends;
use crate::support::{Backend, spawn_app};

both_backends!(a_mail_with_nul_bytes_is_stored_without_them);

/// Runs every file under `folder/<target>/` through its target; the count per target.
fn replay(folder: &str) -> Vec<(&'static str, usize)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut counts = Vec::new();
    let mut failed = Vec::new();
    for (target, run) in TARGETS {
        let mut replayed = 0;
        if let Ok(entries) = std::fs::read_dir(root.join(target)) {
            for entry in entries {
                let path = entry.unwrap().path();
                let input = std::fs::read(&path).unwrap();
                if catch_unwind(AssertUnwindSafe(|| run(&input))).is_err() {
                    failed.push(path.display().to_string());
                }
                replayed += 1;
            }
        }
        counts.push((target, replayed));
    }
    assert!(failed.is_empty(), "failing inputs: {failed:#?}");
    counts
}

#[test]
fn every_input_the_fuzzers_found_failing_passes_now() {
    let counts = replay("tests/data/fuzz");
    for target in ["intake", "clock", "triage"] {
        assert!(
            !counts.contains(&(target, 0)),
            "no finding of {target} replayed: {counts:?}"
        );
    }
}

#[test]
fn the_fuzz_corpus_passes() {
    let counts = replay("fuzz/corpus");
    assert!(
        counts.iter().all(|&(_, n)| n > 0),
        "a corpus is missing: {counts:?}"
    );
}

/// The intake fuzzer's first finding: PostgreSQL refuses NUL in text, so such a mail was
/// answered "try again" (exit 75) on every delivery and never reached a counsellor.
fn a_mail_with_nul_bytes_is_stored_without_them(backend: Backend) {
    let app = spawn_app(backend);
    // Subject 「相談\0」 and body 「本文\0\0\0文」, both in base64; NUL in the id and name too.
    let raw = b"From: Hanako\0 <hanako@example.jp>\r\nTo: soudan@example.org\r\n\
                Message-ID: <nul\0@example.jp>\r\nSubject: =?UTF-8?B?55u46KuHAA==?=\r\n\
                Content-Type: text/plain; charset=utf-8\r\n\
                Content-Transfer-Encoding: base64\r\n\r\n5pys5paHAAAA5paH\r\n";
    let mut conn = app.conn();
    let outcome = store::take(&app.state, &mut conn, raw, "test").expect("stored, not retried");
    let Outcome::Opened {
        ticket_id,
        acknowledged: true,
    } = outcome
    else {
        panic!("expected an acknowledged new consultation, got {outcome:?}");
    };
    let (subject, body, id): (Option<String>, String, Option<String>) = messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .filter(messages::kind.eq("inbound"))
        .select((
            messages::subject,
            messages::body_text,
            messages::rfc_message_id,
        ))
        .first(&mut *conn)
        .unwrap();
    assert_eq!(subject.as_deref(), Some("相談"));
    assert_eq!(body, "本文文");
    assert_eq!(id.as_deref(), Some("nul@example.jp"));
    let name: Option<String> = tickets::table
        .inner_join(consulters::table)
        .filter(tickets::id.eq(ticket_id))
        .select(consulters::name)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(name.as_deref(), Some("Hanako"));
}
