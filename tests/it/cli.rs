//! The command line as an operator meets it: exit codes, messages, and what it stores.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use diesel::prelude::*;
use madoguchi::db::schema::staff;

use crate::both_backends;
use crate::support::{Backend, TestDb};

both_backends!(
    migrate_applies_and_is_idempotent,
    staff_add_creates_an_account_with_a_hashed_password,
    processes_started_together_on_a_new_database_all_migrate,
    bulk_ingest_shows_its_progress_at_a_terminal_and_none_in_a_pipe,
);

fn madoguchi(db: &TestDb, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .args(args)
        .env("MADOGUCHI_DATABASE__URL", &db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("madoguchi runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn migrate_applies_and_is_idempotent(backend: Backend) {
    let db = TestDb::new(backend);
    for _ in 0..2 {
        let out = madoguchi(&db, &["migrate"], "");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
    }
}

/// Two MTA pipes delivering the first mails, or several instances started at once: one
/// migrates, the others wait and find nothing pending (on SQLite they once failed with
/// "table staff already exists").
fn processes_started_together_on_a_new_database_all_migrate(backend: Backend) {
    let db = TestDb::new(backend);
    let children: Vec<_> = (0..12)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_madoguchi"))
                .arg("migrate")
                .env("MADOGUCHI_DATABASE__URL", &db.url)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("madoguchi runs")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn staff_add_creates_an_account_with_a_hashed_password(backend: Backend) {
    let db = TestDb::new(backend);
    let add = |email: &str, password: &str| {
        madoguchi(
            &db,
            &[
                "staff",
                "add",
                "--email",
                email,
                "--name",
                "佐藤 相談員",
                "--role",
                "counsellor",
            ],
            password,
        )
    };
    let out = add("sato@center.example", "long enough password\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = add("sato@center.example", "long enough password\n");
    assert_eq!(again.status.code(), Some(65), "a duplicate is bad data");
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let short = add("kato@center.example", "short\n");
    assert_eq!(short.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least"));
    let bad = add("not-an-address", "long enough password\n");
    assert_eq!(bad.status.code(), Some(64));

    let conn = madoguchi::db::connect(&crate::support::test_settings(&db).database).unwrap();
    let conn = &mut *conn.get().unwrap();
    let rows: Vec<(String, String, String, bool)> = staff::table
        .select((
            staff::email,
            staff::role,
            staff::password_hash,
            staff::active,
        ))
        .load(conn)
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "sato@center.example");
    assert_eq!(rows[0].1, "counsellor");
    assert!(rows[0].2.starts_with("$argon2id$"));
    assert!(!rows[0].2.contains("long enough"));
    assert!(madoguchi::desk::auth::passwords::verify(
        "long enough password",
        &rows[0].2
    ));
    assert!(rows[0].3);
}

#[test]
fn bad_configuration_exits_78_with_the_reason() {
    let db = TestDb::new(Backend::Sqlite);
    let out = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("migrate")
        .env("MADOGUCHI_DATABASE__URL", &db.url)
        .env("MADOGUCHI_SLA__MODE", "weekly")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sla.mode"));
    let out = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .args(["migrate", "--config", "/nonexistent/site.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
}

#[test]
fn serve_without_staff_says_how_to_create_one() {
    let db = TestDb::new(Backend::Sqlite);
    let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .env("MADOGUCHI_DATABASE__URL", &db.url)
        .env("MADOGUCHI_SERVER__BIND", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("no staff account"))
    });
    let line = crate::support::eventually(std::time::Duration::from_secs(20), || {
        reader.is_finished().then_some(())
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.is_some(), "serve never said it");
    let found = reader.join().unwrap().expect("the hint line");
    assert!(found.contains("madoguchi staff add"), "{found}");
    assert!(
        !found.contains('\u{1b}'),
        "no colour codes when not on a terminal"
    );
}

#[test]
fn quarantine_can_be_listed_and_retried_from_the_command_line() {
    let db = TestDb::new(Backend::Sqlite);
    let garbage = format!("{}/tests/data/mail/garbage.bin", env!("CARGO_MANIFEST_DIR"));
    let out = madoguchi(&db, &["ingest", &garbage], "");
    assert!(
        out.status.success(),
        "a message that cannot be parsed still exits 0"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "quarantined 1");
    let list = madoguchi(&db, &["quarantine", "list"], "");
    assert!(list.status.success());
    let listing = String::from_utf8_lossy(&list.stdout).to_string();
    let id = listing.split('\t').next().unwrap().trim().to_string();
    assert!(listing.contains("\tingest\twaiting\t"), "{listing}");
    let received = listing.split('\t').nth(1).unwrap();
    assert!(
        received.ends_with("+09:00"),
        "in the centre's offset: {listing}"
    );
    let retry = madoguchi(&db, &["quarantine", "retry", &id], "");
    assert_eq!(retry.status.code(), Some(65));
    assert_eq!(
        String::from_utf8_lossy(&retry.stdout).trim(),
        "still quarantined"
    );
    let missing = madoguchi(&db, &["quarantine", "retry", "999"], "");
    assert_eq!(missing.status.code(), Some(65));
}

#[test]
fn ingest_exits_75_when_the_database_is_unavailable() {
    let mail = format!(
        "{}/tests/data/mail/utf8-8bit.eml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .args(["ingest", &mail])
        .env(
            "MADOGUCHI_DATABASE__URL",
            "postgres://nobody@127.0.0.1:1/none",
        )
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Ten years of old mail take a while: a person at a terminal sees how far it got; a pipe or
/// a log gets only the summary.
fn bulk_ingest_shows_its_progress_at_a_terminal_and_none_in_a_pipe(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = db.dir.join("old-mail");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |first: usize| {
        for n in first..first + 600 {
            let raw = format!(
                "From: p{n}@example.jp\r\nTo: soudan@example.org\r\nSubject: old {n}\r\n\
                 Message-ID: <old-{n}@example.jp>\r\n\r\nhello\r\n"
            );
            std::fs::write(dir.join(format!("{n:04}.eml")), raw).unwrap();
        }
    };
    write(0);
    let bin = env!("CARGO_BIN_EXE_madoguchi");
    // `script` gives the command a terminal of its own, as a person's shell would.
    let at_terminal = Command::new("script")
        .args([
            "-qec",
            &format!("{bin} ingest {}/*.eml", dir.display()),
            "/dev/null",
        ])
        .env("MADOGUCHI_DATABASE__URL", &db.url)
        .output()
        .expect("script (util-linux) runs");
    let seen = String::from_utf8_lossy(&at_terminal.stdout);
    assert!(at_terminal.status.success(), "{seen}");
    // Batches of 32, 64, 128, 256 and the rest.
    for step in [
        "ingested 32/600",
        "ingested 96/600",
        "ingested 224/600",
        "ingested 480/600",
        "ingested 600/600",
    ] {
        assert!(seen.contains(step), "no {step:?} in {seen:?}");
    }
    assert!(seen.contains("opened 600"), "{seen}");
    assert!(
        !seen.contains("mail taken"),
        "a line per mail floods the person's terminal: {seen}"
    );

    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    write(600);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(String::as_str));
    let piped = madoguchi(&db, &args, "");
    assert!(piped.status.success());
    assert_eq!(String::from_utf8_lossy(&piped.stdout).trim(), "opened 600");
    let err = String::from_utf8_lossy(&piped.stderr);
    assert!(!err.contains("ingested"), "progress in a pipe: {err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("mail taken")).count(),
        600,
        "a log keeps a line per mail (ids only): {err}"
    );
}
