//! The MTA pipe handing one mail to a running server (`intake::handoff`): `madoguchi ingest`
//! run as Postfix runs it, against a real `serve` on a real socket.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use madoguchi::db::schema::{messages, tickets};
use madoguchi::intake::handoff::database_id;

use crate::both_backends;
use crate::support::{Backend, TestApp, TestDb, eventually, spawn_on, test_settings};

both_backends!(
    one_mail_piped_to_ingest_is_stored_by_the_running_server_and_acknowledged,
    with_nobody_listening_ingest_stores_the_mail_itself,
    a_server_gone_mid_way_leaves_the_mail_to_ingest_and_nothing_is_lost,
    a_server_of_another_database_is_never_given_the_mail,
    a_socket_served_by_another_user_is_never_given_the_mail,
    the_socket_answers_what_is_not_a_request_and_stores_nothing,
    many_pipes_at_once_each_store_their_mail_once,
    mail_that_speaks_of_dying_handed_over_reaches_a_person_at_once,
);

fn mail(n: usize) -> Vec<u8> {
    mail_saying(
        n,
        "",
        "息子が部屋から出てきません。どうしたらよいでしょうか。",
    )
}

/// Mail `n` from hanako`n`, with more header lines and its text.
fn mail_saying(n: usize, headers: &str, text: &str) -> Vec<u8> {
    format!(
        "From: Hanako <hanako{n}@example.jp>\r\nTo: soudan@example.org\r\n\
         Subject: =?UTF-8?B?55u46KuH?=\r\nDate: Wed, 25 Nov 2026 10:00:00 +0900\r\n\
         Message-ID: <handoff-{n}@example.jp>\r\n{headers}MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         {text}\r\n"
    )
    .into_bytes()
}

fn socket_in(db: &TestDb) -> PathBuf {
    db.dir.join("intake.sock")
}

/// A server on `db` offering the hand-off at `socket_in(db)`.
fn serve(db: TestDb) -> (TestApp, PathBuf) {
    let socket = socket_in(&db);
    let mut settings = test_settings(&db);
    settings.intake.handoff_socket = socket.display().to_string();
    (spawn_on(Arc::new(db), settings), socket)
}

/// `madoguchi ingest` with the mail on stdin, as an MTA pipe runs it.
fn pipe(url: &str, socket: &Path, raw: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("ingest")
        .env("MADOGUCHI_DATABASE__URL", url)
        .env("MADOGUCHI_INTAKE__HANDOFF_SOCKET", socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    child.wait_with_output().unwrap()
}

fn said(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn stored(url: &str) -> (i64, i64) {
    let mut conn = madoguchi::db::connect_for_command(&madoguchi::config::DatabaseSettings {
        url: url.into(),
        pool_size: 1,
        sqlite_synchronous: madoguchi::config::SqliteSynchronous::Normal,
    })
    .unwrap()
    .get()
    .unwrap();
    let t = tickets::table.count().get_result(&mut *conn).unwrap();
    let m = messages::table
        .filter(messages::kind.eq("inbound"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    (t, m)
}

/// Items the server's group commit has taken so far.
fn committed_by_server(app: &TestApp) -> u64 {
    app.state.commits.counts().1
}

fn one_mail_piped_to_ingest_is_stored_by_the_running_server_and_acknowledged(backend: Backend) {
    let (app, socket) = serve(TestDb::new(backend));
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the socket is ours alone");
    let url = app.db_url();
    let before = committed_by_server(&app);

    assert_eq!(said(&pipe(&url, &socket, &mail(1))), "opened 1");
    assert_eq!(
        committed_by_server(&app),
        before + 1,
        "the server stored it"
    );
    assert_eq!(stored(&url), (1, 1));
    let mut conn = app.conn();
    let subject: String = tickets::table
        .select(tickets::subject)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(subject, "相談");
    drop(conn);

    // The acknowledgement goes out at once: the server woke its delivery.
    let dir = PathBuf::from(&app.state.settings.smtp.file_dir);
    let sent = eventually(Duration::from_secs(10), || {
        let files = std::fs::read_dir(&dir).ok()?;
        files
            .flatten()
            .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
            .find(|text| text.contains("hanako1@example.jp"))
    });
    assert!(sent.is_some(), "no acknowledgement reached the consulter");

    // Sent again (an MTA that did not hear the answer): stored once.
    assert_eq!(said(&pipe(&url, &socket, &mail(1))), "duplicate 1");
    assert_eq!(stored(&url), (1, 1));

    // Stopping the server removes its socket; the next pipe stores the mail itself.
    drop(app);
    assert!(!socket.exists(), "the socket is left behind");
}

fn with_nobody_listening_ingest_stores_the_mail_itself(backend: Backend) {
    let db = TestDb::new(backend);
    let socket = socket_in(&db);
    // A socket left by a server that died: it is there, nobody answers.
    drop(UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    assert_eq!(said(&pipe(&db.url, &socket, &mail(2))), "opened 1");
    assert_eq!(stored(&db.url), (1, 1));
    // And no socket at all.
    let nowhere = db.dir.join("nobody-here.sock");
    assert_eq!(said(&pipe(&db.url, &nowhere, &mail(3))), "opened 1");
    assert_eq!(stored(&db.url), (2, 2));
}

fn a_server_gone_mid_way_leaves_the_mail_to_ingest_and_nothing_is_lost(backend: Backend) {
    let db = TestDb::new(backend);
    let socket = socket_in(&db);
    let listener = UnixListener::bind(&socket).unwrap();
    // It reads the request, then hangs up without an answer (a server killed mid-way).
    listener.set_nonblocking(true).unwrap();
    let server = std::thread::spawn(move || {
        let accepted = eventually(Duration::from_secs(20), || listener.accept().ok());
        let (mut stream, _) = accepted.expect("ingest never came to the server");
        stream.set_nonblocking(false).unwrap();
        let mut first = [0u8; 64];
        let n = stream.read(&mut first).unwrap();
        String::from_utf8_lossy(&first[..n]).into_owned()
    });
    assert_eq!(said(&pipe(&db.url, &socket, &mail(4))), "opened 1");
    let heard = server.join().unwrap();
    assert!(heard.starts_with("madoguchi-ingest/1 "), "{heard:?}");
    assert_eq!(stored(&db.url), (1, 1));
}

fn a_server_of_another_database_is_never_given_the_mail(backend: Backend) {
    let (app, socket) = serve(TestDb::new(backend));
    let other = TestDb::new(backend);
    let before = committed_by_server(&app);
    assert_eq!(said(&pipe(&other.url, &socket, &mail(5))), "opened 1");
    assert_eq!(committed_by_server(&app), before, "the server took it");
    assert_eq!(stored(&other.url), (1, 1));
    assert_eq!(stored(&app.db_url()), (0, 0));
}

/// Sends `bytes` on a connection of its own, closes the writing half, and reads the answer.
fn exchange(socket: &Path, bytes: &[u8]) -> String {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn the_socket_answers_what_is_not_a_request_and_stores_nothing(backend: Backend) {
    let (app, socket) = serve(TestDb::new(backend));
    let url = app.db_url();
    let id = database_id(&url);
    let max = app.state.settings.intake.max_message_bytes;
    let cases: [(Vec<u8>, &str); 6] = [
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), "refused bad request\n"),
        (vec![b'a'; 10_000], "refused bad request\n"),
        (b"".to_vec(), "refused bad request\n"),
        (
            format!("madoguchi-ingest/1 {id} {}\n", max + 1).into_bytes(),
            "refused too large\n",
        ),
        (
            format!("madoguchi-ingest/1 {id} 500\nFrom: a@example.jp\r\n").into_bytes(),
            "refused mail cut short\n",
        ),
        (
            format!("madoguchi-ingest/1 {} 3\nabc", "0".repeat(32)).into_bytes(),
            "elsewhere\n",
        ),
    ];
    for (bytes, answer) in &cases {
        assert_eq!(
            &exchange(&socket, bytes),
            answer,
            "{:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
        );
    }
    assert_eq!(stored(&url), (0, 0));
    // A mail that is not a mail at all is a request like any other: kept in quarantine.
    assert_eq!(
        exchange(
            &socket,
            format!("madoguchi-ingest/1 {id} 3\n\0\0\0").as_bytes()
        ),
        "taken quarantined\n"
    );
    // And the server still takes mail.
    assert_eq!(said(&pipe(&url, &socket, &mail(6))), "opened 1");
    assert_eq!(stored(&url), (1, 1));
}

fn many_pipes_at_once_each_store_their_mail_once(backend: Backend) {
    let (app, socket) = serve(TestDb::new(backend));
    let url = app.db_url();
    let before = committed_by_server(&app);
    let said_all: Vec<String> = std::thread::scope(|s| {
        let pipes: Vec<_> = (100..124)
            .map(|n| {
                let (url, socket) = (&url, &socket);
                s.spawn(move || said(&pipe(url, socket, &mail(n))))
            })
            .collect();
        pipes.into_iter().map(|p| p.join().unwrap()).collect()
    });
    assert!(said_all.iter().all(|s| s == "opened 1"), "{said_all:?}");
    assert_eq!(committed_by_server(&app), before + 24);
    assert_eq!(stored(&url), (24, 24));
}

/// Answers "taken" to anything, and keeps nothing: what a stranger's listener could do.
const IMPOSTOR: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(8)
while True:
    c, _ = s.accept()
    c.recv(65536); c.sendall(b"taken opened\n"); c.close()
"#;

fn a_socket_served_by_another_user_is_never_given_the_mail(backend: Backend) {
    let db = TestDb::new(backend);
    let open_dir = db.dir.join("anyone");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let socket = open_dir.join("intake.sock");
    // As user nobody (the tests run as root, as scripts/test does).
    let mut impostor = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
        ])
        .arg(IMPOSTOR)
        .arg(&socket)
        .spawn()
        .expect("setpriv and /usr/bin/python3 (Debian's)");
    let listening = eventually(Duration::from_secs(10), || socket.exists().then_some(()));
    assert!(listening.is_some(), "the impostor did not listen");
    let out = pipe(&db.url, &socket, &mail(7));
    let _ = impostor.kill();
    let _ = impostor.wait();
    assert_eq!(said(&out), "opened 1");
    assert_eq!(stored(&db.url), (1, 1), "the impostor was believed");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("served by another user"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The mail written to `dir` (the server's outgoing files) that `wanted` picks, once it is there.
fn sent_to(dir: &Path, wanted: impl Fn(&str) -> bool) -> Option<String> {
    eventually(Duration::from_secs(10), || {
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|f| std::fs::read(f.path()).unwrap_or_default())
            .map(|raw| {
                let parsed = mail_parser::MessageParser::default().parse(&raw[..]);
                let to = parsed
                    .as_ref()
                    .and_then(|m| m.to())
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    .unwrap_or_default()
                    .to_string();
                let body = parsed
                    .as_ref()
                    .and_then(|m| m.body_text(0))
                    .unwrap_or_default()
                    .to_string();
                format!("To: {to}\n{body}")
            })
            .find(|text| wanted(text))
    })
}

/// The urgent-risk check runs before the server's commit now: the first mail, a reply to it
/// and a first mail that names a thread we do not have are each judged as the form's are.
fn mail_that_speaks_of_dying_handed_over_reaches_a_person_at_once(backend: Backend) {
    let (app, socket) = serve(TestDb::new(backend));
    app.staff("s@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    let url = app.db_url();
    let ticket = |id: i64| app.ticket(&c.token, id);
    let first_ticket = |n: usize| -> i64 {
        let mut conn = app.conn();
        messages::table
            .filter(messages::rfc_message_id.eq(format!("handoff-{n}@example.jp")))
            .select(messages::ticket_id)
            .first(&mut *conn)
            .unwrap()
    };
    let dir = PathBuf::from(&app.state.settings.smtp.file_dir);

    let dying = "もう生きているのがつらくて、しにたいと思ってしまいます。";
    assert_eq!(
        said(&pipe(&url, &socket, &mail_saying(1, "", dying))),
        "opened 1"
    );
    let t = ticket(first_ticket(1));
    assert_eq!(t["urgent"], true, "{t}");
    assert_eq!(
        t["urgent_reasons"],
        serde_json::json!(["suicidal_ideation"])
    );
    let ack = sent_to(&dir, |m| m.starts_with("To: hanako1@example.jp"))
        .expect("the consulter is acknowledged");
    assert!(
        ack.contains("119番"),
        "the urgent acknowledgement says where to call: {ack}"
    );
    let alert = sent_to(&dir, |m| m.starts_with("To: s@center.example"))
        .expect("the supervisor is told at once");
    assert!(!alert.contains("しにたい"), "never the text: {alert}");

    // A calm first mail, then its writer's reply that speaks of harm: the ticket turns urgent.
    assert_eq!(said(&pipe(&url, &socket, &mail(2))), "opened 1");
    let calm = first_ticket(2);
    assert_eq!(ticket(calm)["urgent"], false);
    let ack = sent_to(&dir, |m| m.starts_with("To: hanako2@example.jp")).unwrap();
    assert!(!ack.contains("119番"), "{ack}");
    let reply = mail_saying(2, "", "昨日またリスカしてしまいました。");
    let reply = String::from_utf8(reply)
        .unwrap()
        .replace("<handoff-2@", "<handoff-2-reply@")
        .replace(
            "MIME-Version",
            "In-Reply-To: <handoff-2@example.jp>\r\nMIME-Version",
        );
    assert_eq!(said(&pipe(&url, &socket, reply.as_bytes())), "joined 1");
    let t = ticket(calm);
    assert_eq!(t["urgent"], true, "{t}");
    assert_eq!(t["urgent_reasons"], serde_json::json!(["self_harm"]));

    // Naming a thread we do not have: a new consultation, judged and answered all the same.
    let stray = mail_saying(3, "In-Reply-To: <nobody@example.jp>\r\n", dying);
    assert_eq!(said(&pipe(&url, &socket, &stray)), "opened 1");
    assert_eq!(ticket(first_ticket(3))["urgent"], true);
    let ack = sent_to(&dir, |m| m.starts_with("To: hanako3@example.jp")).unwrap();
    assert!(ack.contains("119番"), "{ack}");
}
