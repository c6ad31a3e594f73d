//! The export for the end of a contract (issue 14, point 5): `madoguchi export --out DIR`
//! writes every ticket with its thread and attachments; read back here and compared with what
//! the API shows and what the database keeps.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use diesel::prelude::*;
use madoguchi::db::schema::{messages, outbound_mail};
use mail_parser::MessageParser;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, STAFF_PASSWORD, TestApp, spawn_app_with};

both_backends!(every_ticket_thread_and_attachment_is_written_and_reads_back);

fn export(app: &TestApp, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("export")
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("MADOGUCHI_DATABASE__URL", app.db_url())
        .env("MADOGUCHI_LOG__LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("madoguchi runs")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every file and folder under `dir`.
fn walk(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, into);
        }
        into.push(path);
    }
}

fn every_ticket_thread_and_attachment_is_written_and_reads_back(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.intake.rate_limit_per_hour = 0;
        s.alerts.enabled = false;
    });
    app.add_staff("c@center.example", "counsellor");
    let token = app.login("c@center.example", STAFF_PASSWORD).json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    // By the form, answered and noted.
    let form = app.new_ticket("taro..yamada.@docomo.ne.jp");
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{form}/replies"),
        Some(&token),
        Some(&json!({"body": "ご相談ありがとうございます。"})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{form}/notes"),
        Some(&token),
        Some(&json!({"body": "来週電話する。"})),
    );
    assert_eq!(r.status, 201);
    // By mail, with two files.
    let raw = std::fs::read(format!(
        "{}/tests/data/mail/rfc2231-filename.eml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let by_mail = {
        let mut conn = app.conn();
        madoguchi::intake::mail::take(&app.state, &mut conn, &raw, "test")
            .unwrap()
            .ticket_id()
            .unwrap()
            .0
    };
    let third = app.new_ticket("someone@example.jp");

    let base = std::env::temp_dir().join(format!(
        "madoguchi_export_{}",
        madoguchi::random::hex_string::<8>()
    ));
    let out = base.join("handover");
    let done = export(&app, &out, &[]);
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(said.contains("exported 3 tickets"), "{said}");
    assert!(
        !String::from_utf8_lossy(&done.stderr).contains('\r'),
        "no progress in a pipe"
    );

    // Private: files 0600, folders 0700.
    let mut all = Vec::new();
    walk(&out, &mut all);
    all.push(out.clone());
    for path in &all {
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{}", path.display());
    }

    let index = read_json(&out.join("index.json"));
    let listed: Vec<i64> = index["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, vec![form, by_mail, third]);

    let mut conn = app.conn();
    for line in index["tickets"].as_array().unwrap() {
        let id = line["id"].as_i64().unwrap();
        let path = out.join(line["path"].as_str().unwrap());
        let folder = path.parent().unwrap().to_path_buf();
        let got = read_json(&path);
        let api = app
            .call("GET", &format!("/api/v1/tickets/{id}"), Some(&token), None)
            .json();
        for key in [
            "reference",
            "subject",
            "status",
            "channel",
            "urgent",
            "created_at",
        ] {
            assert_eq!(got[key], api[key], "{key} of {id}");
        }
        assert_eq!(got["consulter"], api["consulter"], "{id}");
        // The reply clocks: the form ticket's stopped by the reply, the others still running.
        let clocks = got["clocks"].as_array().unwrap();
        assert_eq!(clocks.len(), 1, "{got}");
        assert_eq!(clocks[0]["stopped_at"].is_string(), id == form, "{got}");
        if id != form {
            assert_eq!(clocks[0]["due_at"], api["reply_due_at"]);
        }
        let (ours, theirs) = (
            got["messages"].as_array().unwrap(),
            api["messages"].as_array().unwrap(),
        );
        assert_eq!(ours.len(), theirs.len(), "the whole thread of {id}");
        for (m, a) in ours.iter().zip(theirs) {
            for key in [
                "id",
                "kind",
                "body_text",
                "created_at",
                "automatic",
                "system_note",
            ] {
                assert_eq!(m[key], a[key], "{key} of message {}", a["id"]);
            }
            assert_eq!(m["delivery"]["status"], a["delivery"]["status"]);
            // Every attachment, byte for byte as the API hands it out.
            let files = m["attachments"].as_array().unwrap();
            assert_eq!(files.len(), a["attachments"].as_array().unwrap().len());
            for (f, af) in files.iter().zip(a["attachments"].as_array().unwrap()) {
                assert_eq!(f["filename"], af["filename"]);
                let bytes = std::fs::read(folder.join(f["path"].as_str().unwrap())).unwrap();
                let url = af["url"].as_str().unwrap();
                let mut resp = app
                    .http
                    .get(app.url(url))
                    .header("authorization", format!("Bearer {token}"))
                    .call()
                    .unwrap();
                let served = resp.body_mut().read_to_vec().unwrap();
                assert_eq!(bytes, served, "{}", f["filename"]);
                assert_eq!(f["size_bytes"].as_u64(), Some(bytes.len() as u64));
            }
            // An .eml for each mail message; none for a note.
            let message_id = m["id"].as_i64().unwrap();
            let eml = m["eml"]
                .as_str()
                .map(|p| std::fs::read(folder.join(p)).unwrap());
            match (m["kind"].as_str().unwrap(), eml) {
                ("note", eml) => assert!(eml.is_none()),
                ("inbound", Some(bytes)) if id == by_mail => assert_eq!(bytes, raw, "as it came"),
                ("inbound", Some(bytes)) => {
                    // A form message: composed, and it reads back as what was written.
                    let mail = MessageParser::default().parse(&bytes).unwrap();
                    assert_eq!(
                        mail.body_text(0).unwrap().trim_end(),
                        m["body_text"].as_str().unwrap()
                    );
                    assert_eq!(mail.subject(), got["subject"].as_str());
                    let from = mail.from().unwrap().first().unwrap().address().unwrap();
                    assert_eq!(
                        from.trim_matches('"').replace("\"@", "@"),
                        got["consulter"]["email"].as_str().unwrap()
                    );
                }
                ("outbound", Some(bytes)) => {
                    let sent: Vec<u8> = outbound_mail::table
                        .filter(outbound_mail::message_id.eq(message_id))
                        .select(outbound_mail::raw)
                        .first(&mut conn)
                        .unwrap();
                    assert_eq!(bytes, sent, "the very bytes sent");
                }
                (kind, None) => panic!("no .eml for the {kind} message {message_id}"),
                (kind, _) => panic!("unexpected {kind}"),
            }
        }
    }
    let notes: i64 = messages::table
        .filter(messages::kind.eq("note"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(notes, 1);

    // A folder that is not empty is refused, with a clear word and exit 64; --force writes.
    let again = export(&app, &out, &[]);
    assert_eq!(again.status.code(), Some(64), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
    let forced = export(&app, &out, &["--force"]);
    assert_eq!(forced.status.code(), Some(0), "{forced:?}");

    // On a terminal (a pseudo-terminal made by script(1)) it shows its progress.
    let on_tty = Command::new("script")
        .args([
            "-qec",
            &format!(
                "{} export --out {} --force",
                env!("CARGO_BIN_EXE_madoguchi"),
                out.display()
            ),
            "/dev/null",
        ])
        .env("MADOGUCHI_DATABASE__URL", app.db_url())
        .env("MADOGUCHI_LOG__LEVEL", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("script(1) runs");
    let shown = String::from_utf8_lossy(&on_tty.stdout);
    assert!(shown.contains("\rexported 3/3"), "{shown:?}");
    std::fs::remove_dir_all(base).unwrap();
}
