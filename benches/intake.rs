//! Mail intake throughput on SQLite: how many mails a second `intake::mail::take` stores,
//! one mail per transaction as `madoguchi ingest` and the IMAP poller do, and the same through
//! the real binary (`madoguchi ingest FILE...`) end to end.
//!
//! The mails are what the centre receives: Japanese, about 1 KB of text, in the three shapes
//! Japanese clients send (UTF-8 base64 like Gmail, ISO-2022-JP like older phones and clients,
//! UTF-8 quoted-printable multipart/alternative like iPhone Mail), each from its own sender
//! (so each opens a ticket, starts a reply clock and queues an acknowledgement), and one in
//! ten a reply to an earlier mail (it threads onto that ticket by In-Reply-To).
//!
//! Target: ≥ 3,000 mails/s (django-helpdesk takes 32 mails/s on the same machine).
//!
//! Also measured: one `madoguchi ingest FILE` process per mail, as an MTA's pipe delivery runs
//! it (start-up cost per mail).
//!
//! Run: `cargo bench --bench intake`. Knobs: `BENCH_MAILS` (default 10000, in process),
//! `BENCH_FILES` (default 10000, through the binary), `BENCH_PIPE` (default 200, one process
//! each), `BENCH_BACKENDS` (default
//! `sqlite-full,sqlite-normal`; add `postgres` for information), `MADOGUCHI_BIN` (default: the
//! binary cargo built with this bench), `BENCH_SQLITE_PRAGMAS` (what-if: SQL run on the
//! in-process connection first, e.g. `PRAGMA wal_autocheckpoint = 10000;`).

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backend, BenchDb, Latencies, LoadProbe, Rng, Table};
use madoguchi::config::SqliteSynchronous;
use madoguchi::intake::Outcome;
use madoguchi::intake::mail;
use madoguchi::startup::build_state;
use madoguchi::timesource::SystemTime;

/// Who wrote a first mail, so that a later reply can come from them and name it.
struct Sender {
    address: String,
    name: String,
    subject: &'static str,
    message_id: String,
    first_line: String,
}

/// The mails of one run, in the order they arrive.
struct Corpus {
    mails: Vec<Vec<u8>>,
    first_mails: usize,
    replies: usize,
    bytes: usize,
}

const REPLY_SHARE: f64 = 0.10;

fn corpus(count: usize, run: &str, seed: u64) -> Corpus {
    let mut rng = Rng::new(seed);
    let mut senders: Vec<Sender> = Vec::new();
    let mut mails = Vec::with_capacity(count);
    let (mut first_mails, mut replies, mut bytes) = (0, 0, 0);
    for i in 0..count {
        let mail = if !senders.is_empty() && rng.chance(REPLY_SHARE) {
            replies += 1;
            let to = rng.below(senders.len() as u64) as usize;
            reply_mail(&mut rng, &senders[to], run, i)
        } else {
            first_mails += 1;
            let (mail, sender) = first_mail(&mut rng, run, i);
            senders.push(sender);
            mail
        };
        bytes += mail.len();
        mails.push(mail);
    }
    Corpus {
        mails,
        first_mails,
        replies,
        bytes,
    }
}

fn date(i: usize) -> String {
    format!(
        "Tue, 10 Jun 2025 {:02}:{:02}:{:02} +0900",
        9 + (i / 3600) % 12,
        (i / 60) % 60,
        i % 60
    )
}

/// Headers every mail carries through the centre's MTA.
fn transport_headers(i: usize, domain: &str) -> String {
    format!(
        "Return-Path: <sender{i}@{domain}>\r\n\
         Received: from mail.{domain} (mail.{domain} [192.0.2.{}])\r\n\
         \tby mx.example.org (Postfix) with ESMTPS id 4X{i:08X}\r\n\
         \tfor <soudan@example.org>; {}\r\n",
        i % 250 + 1,
        date(i)
    )
}

fn first_mail(rng: &mut Rng, run: &str, i: usize) -> (Vec<u8>, Sender) {
    let domain = *rng.pick(&[
        "example.jp",
        "example.ne.jp",
        "example.co.jp",
        "example.com",
    ]);
    let address = format!("consulter.{run}.{i}@{domain}");
    let name = common::japanese_name(rng);
    let subject = common::japanese_subject(rng);
    let message_id = format!("{run}.{i}.{:016x}@mail.{domain}", rng.next());
    let body = common::japanese_body(rng, 1000, i);
    let first_line = body.lines().nth(1).unwrap_or("").chars().take(30).collect();
    let top = transport_headers(i, domain);
    let mail = match i % 3 {
        // Gmail and most webmail: UTF-8, base64.
        0 => format!(
            "{top}From: {} <{address}>\r\nTo: soudan@example.org\r\nSubject: {}\r\n\
             Date: {}\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: base64\r\n\
             \r\n{}",
            common::encoded_word_utf8(&name),
            common::encoded_word_utf8(subject),
            date(i),
            common::base64_lines(body.as_bytes()),
        )
        .into_bytes(),
        // Older clients and phones: ISO-2022-JP, 7bit, lines of about 36 characters.
        1 => {
            let mut mail = format!(
                "{top}From: =?ISO-2022-JP?B?{}?= <{address}>\r\nTo: soudan@example.org\r\n\
                 Subject: =?ISO-2022-JP?B?{}?=\r\nDate: {}\r\nMessage-ID: <{message_id}>\r\n\
                 MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\
                 Content-Transfer-Encoding: 7bit\r\n\r\n",
                common::base64(&common::iso2022jp(&name)),
                common::base64(&common::iso2022jp(subject)),
                date(i),
            )
            .into_bytes();
            mail.extend(common::iso2022jp(&common::wrap(&body, 36)));
            mail
        }
        // iPhone Mail: multipart/alternative, quoted-printable text and HTML.
        _ => {
            let boundary = format!("Apple-Mail-{:016X}", rng.next());
            let html = format!(
                "<html><head><meta http-equiv=\"content-type\" content=\"text/html; \
                 charset=utf-8\"></head><body dir=\"auto\">{}</body></html>",
                body.replace('\n', "<br>")
            );
            format!(
                "{top}Content-Type: multipart/alternative; boundary={boundary}\r\n\
                 Content-Transfer-Encoding: 7bit\r\nFrom: {} <{address}>\r\n\
                 Mime-Version: 1.0 (1.0)\r\nDate: {}\r\nSubject: {}\r\n\
                 Message-Id: <{message_id}>\r\nTo: soudan@example.org\r\n\
                 X-Mailer: iPhone Mail (22E240)\r\n\r\n\
                 --{boundary}\r\nContent-Type: text/plain;\r\n\tcharset=utf-8\r\n\
                 Content-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n\
                 --{boundary}\r\nContent-Type: text/html;\r\n\tcharset=utf-8\r\n\
                 Content-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n--{boundary}--\r\n",
                common::encoded_word_utf8(&name),
                date(i),
                common::encoded_word_utf8(subject),
                common::quoted_printable(&body),
                common::quoted_printable(&html),
            )
            .into_bytes()
        }
    };
    let sender = Sender {
        address,
        name,
        subject,
        message_id,
        first_line,
    };
    (mail, sender)
}

/// A reply to the sender's first mail, quoting it, as a mail client makes it.
fn reply_mail(rng: &mut Rng, to: &Sender, run: &str, i: usize) -> Vec<u8> {
    let domain = to.address.rsplit_once('@').map_or("example.jp", |(_, d)| d);
    let body = format!(
        "{}\n\n> {}\n",
        common::japanese_body(rng, 400, i),
        to.first_line
    );
    format!(
        "{}From: {} <{}>\r\nTo: soudan@example.org\r\nSubject: {}\r\nDate: {}\r\n\
         Message-ID: <{run}.{i}.reply.{:016x}@mail.{domain}>\r\nIn-Reply-To: <{}>\r\n\
         References: <{}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: base64\r\n\
         \r\n{}",
        transport_headers(i, domain),
        common::encoded_word_utf8(&to.name),
        to.address,
        common::encoded_word_utf8(&format!("Re: {}", to.subject)),
        date(i),
        rng.next(),
        to.message_id,
        to.message_id,
        common::base64_lines(body.as_bytes()),
    )
    .into_bytes()
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Opened {
            acknowledged: true, ..
        } => "opened+ack",
        Outcome::Opened { .. } => "opened (no ack)",
        Outcome::Joined { .. } => "joined",
        Outcome::Duplicate => "duplicate",
        Outcome::Bounce { .. } => "bounce",
        Outcome::Quarantined { .. } => "QUARANTINED",
    }
}

struct InProcess {
    backend: Backend,
    mails: usize,
    elapsed: Duration,
    latencies: Latencies,
    outcomes: BTreeMap<&'static str, usize>,
    db_mib: Option<f64>,
    load: String,
}

/// `mail::take` in a loop on one pooled connection, exactly as `madoguchi ingest` does.
fn in_process(backend: Backend, corpus: &Corpus) -> Option<InProcess> {
    let db = BenchDb::new(backend)?;
    let state = build_state(db.settings(), Arc::new(SystemTime)).expect("state builds");
    let mut conn = state.pool.get().expect("a database connection");
    if let Ok(pragmas) = std::env::var("BENCH_SQLITE_PRAGMAS") {
        // What-if experiments, e.g. "PRAGMA wal_autocheckpoint = 10000;" (not what ships).
        use diesel::connection::SimpleConnection;
        conn.batch_execute(&pragmas).expect("BENCH_SQLITE_PRAGMAS");
    }
    let mut outcomes = BTreeMap::new();
    let mut samples = Vec::with_capacity(corpus.mails.len());
    let probe = LoadProbe::start();
    let start = Instant::now();
    for raw in &corpus.mails {
        let t = Instant::now();
        let outcome = mail::take(&state, &mut conn, raw, "ingest").expect("mail stored");
        samples.push(t.elapsed());
        *outcomes.entry(outcome_name(&outcome)).or_insert(0) += 1;
    }
    let elapsed = start.elapsed();
    let load = probe.finish();
    drop(conn);
    Some(InProcess {
        backend,
        mails: corpus.mails.len(),
        elapsed,
        latencies: Latencies::new(samples),
        outcomes,
        db_mib: db.sqlite_mib(),
        load,
    })
}

struct EndToEnd {
    backend: Backend,
    files: usize,
    elapsed: Duration,
    summary: String,
    load: String,
}

/// Writes the corpus as `.eml` files into the database's temp folder.
fn write_files(db: &BenchDb, corpus: &Corpus) -> Vec<PathBuf> {
    let mail_dir = db.dir().join("incoming");
    std::fs::create_dir_all(&mail_dir).expect("create the mail folder");
    corpus
        .mails
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let path = mail_dir.join(format!("{i:06}.eml"));
            std::fs::write(&path, raw).expect("write a mail file");
            path
        })
        .collect()
}

/// `madoguchi ingest FILES` configured for `db` through the environment, as an MTA runs it.
fn ingest(bin: &PathBuf, db: &BenchDb, files: &[PathBuf]) -> String {
    let settings = db.settings();
    let mut cmd = Command::new(bin);
    // The bench's own MADOGUCHI_* variables (e.g. MADOGUCHI_TEST_POSTGRES) are no settings.
    for (var, _) in std::env::vars() {
        if var.starts_with("MADOGUCHI_") {
            cmd.env_remove(var);
        }
    }
    let out = cmd
        .arg("ingest")
        .args(files)
        .env("MADOGUCHI_DATABASE__URL", &settings.database.url)
        .env(
            "MADOGUCHI_DATABASE__SQLITE_SYNCHRONOUS",
            settings.database.sqlite_synchronous.as_str(),
        )
        .env("MADOGUCHI_SMTP__FILE_DIR", &settings.smtp.file_dir)
        .env("MADOGUCHI_LOG__LEVEL", "warn")
        .output()
        .expect("run madoguchi ingest");
    assert!(
        out.status.success(),
        "madoguchi ingest failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// All files in one `madoguchi ingest FILE...`, timed from spawn to exit (start-up, migrations
/// of the empty database and the template check included).
fn end_to_end(backend: Backend, bin: &PathBuf, corpus: &Corpus) -> Option<EndToEnd> {
    let db = BenchDb::new(backend)?;
    let files = write_files(&db, corpus);
    let probe = LoadProbe::start();
    let start = Instant::now();
    let summary = ingest(bin, &db, &files);
    let elapsed = start.elapsed();
    Some(EndToEnd {
        backend,
        files: files.len(),
        elapsed,
        summary,
        load: probe.finish(),
    })
}

/// One process per mail, as an MTA's pipe delivery runs it, on a database already migrated.
fn one_per_process(
    backend: Backend,
    bin: &PathBuf,
    corpus: &Corpus,
) -> Option<(Duration, Latencies, String)> {
    let db = BenchDb::new(backend)?;
    let files = write_files(&db, corpus);
    let (first, rest) = files.split_first()?;
    ingest(bin, &db, std::slice::from_ref(first));
    let probe = LoadProbe::start();
    let start = Instant::now();
    let samples = rest
        .iter()
        .map(|f| {
            let t = Instant::now();
            ingest(bin, &db, std::slice::from_ref(f));
            t.elapsed()
        })
        .collect();
    Some((start.elapsed(), Latencies::new(samples), probe.finish()))
}

fn main() {
    common::init_logging();
    common::print_machine_header("mail intake (intake::mail::take, one mail per transaction)");
    let mails = common::env_usize("BENCH_MAILS", 10_000);
    let files = common::env_usize("BENCH_FILES", 10_000);
    let backends: Vec<Backend> = match std::env::var("BENCH_BACKENDS") {
        Ok(_) => common::backends_from_env(),
        Err(_) => vec![
            Backend::Sqlite(SqliteSynchronous::Full),
            Backend::Sqlite(SqliteSynchronous::Normal),
        ],
    };
    let bin = std::env::var_os("MADOGUCHI_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_madoguchi")),
        PathBuf::from,
    );

    let run = common::random_hex();
    let start = Instant::now();
    let in_memory = corpus(mails, &run, 1);
    println!(
        "corpus: {} mails ({} first mails, {} replies), {:.0} bytes/mail on average, made in {:.1} s",
        in_memory.mails.len(),
        in_memory.first_mails,
        in_memory.replies,
        in_memory.bytes as f64 / in_memory.mails.len().max(1) as f64,
        start.elapsed().as_secs_f64()
    );

    println!("\nin process ({mails} mails per backend, one connection):");
    let mut table = Table::new(&[
        "backend", "mails", "secs", "mails/s", "p50 ms", "p99 ms", "max ms", "outcomes", "db MiB",
        "load",
    ]);
    for &backend in &backends {
        let Some(r) = in_process(backend, &in_memory) else {
            continue;
        };
        let outcomes: Vec<String> = r.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        table.row(vec![
            r.backend.label(),
            r.mails.to_string(),
            format!("{:.2}", r.elapsed.as_secs_f64()),
            format!("{:.0}", r.mails as f64 / r.elapsed.as_secs_f64()),
            common::ms(r.latencies.pct(50.0)),
            common::ms(r.latencies.pct(99.0)),
            common::ms(r.latencies.max()),
            outcomes.join(", "),
            r.db_mib.map_or("-".into(), |m| format!("{m:.0}")),
            r.load,
        ]);
    }
    table.print();

    // BENCH_FILES=0 skips this (`ingest` without files would read one mail from stdin).
    if files > 0 {
        println!(
            "\nend to end: {} ingest FILE... ({files} files per backend):",
            bin.display()
        );
        let on_disk = corpus(files, &format!("{run}f"), 2);
        let mut table = Table::new(&["backend", "files", "secs", "mails/s", "ingest said", "load"]);
        for &backend in &backends {
            let Some(r) = end_to_end(backend, &bin, &on_disk) else {
                continue;
            };
            table.row(vec![
                r.backend.label(),
                r.files.to_string(),
                format!("{:.2}", r.elapsed.as_secs_f64()),
                format!("{:.0}", r.files as f64 / r.elapsed.as_secs_f64()),
                r.summary,
                r.load,
            ]);
            let rate = r.files as f64 / r.elapsed.as_secs_f64();
            let target = if r.backend == Backend::Postgres {
                4000.0
            } else {
                4500.0
            };
            common::result(
                &format!("bulk ingest, {} files, {}", r.files, r.backend.label()),
                &format!("≥ {target:.0} mails/s"),
                &format!("{rate:.0} mails/s"),
                rate >= target,
            );
        }
        table.print();
    }

    let pipes = common::env_usize("BENCH_PIPE", 200);
    if pipes > 1 {
        println!(
            "\none process per mail (an MTA pipe): {pipes} × `ingest FILE` after a first one migrated:"
        );
        let few = corpus(pipes, &format!("{run}p"), 3);
        let mut table = Table::new(&[
            "backend", "mails", "secs", "mails/s", "p50 ms", "p99 ms", "load",
        ]);
        for &backend in &backends {
            let Some((elapsed, lat, load)) = one_per_process(backend, &bin, &few) else {
                continue;
            };
            table.row(vec![
                backend.label(),
                lat.len().to_string(),
                format!("{:.2}", elapsed.as_secs_f64()),
                format!("{:.0}", lat.len() as f64 / elapsed.as_secs_f64()),
                common::ms(lat.pct(50.0)),
                common::ms(lat.pct(99.0)),
                load,
            ]);
        }
        table.print();
    }
    println!("loadavg at end: {}", common::loadavg());
}
