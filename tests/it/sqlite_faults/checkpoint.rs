//! `ingest` processes beside `serve` while the WAL is checkpointed (issue 17, point 4c).

use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::{Serve, run, stored};

/// Consulter `c`'s mail `k`: k = 0 opens the consultation, later ones answer it by header.
fn thread_mail(c: usize, k: usize) -> String {
    let parent = if k == 0 {
        String::new()
    } else {
        format!("In-Reply-To: <wal-{c}-0@example.jp>\r\nReferences: <wal-{c}-0@example.jp>\r\n")
    };
    format!(
        "From: <c{c}@example.jp>\r\nTo: soudan@center.example\r\nSubject: c{c} k{k}\r\n\
         Message-ID: <wal-{c}-{k}@example.jp>\r\n{parent}\
         Date: Wed, 02 Dec 2026 10:00:00 +0900\r\n\r\nmail {k}\r\n"
    )
}

/// Runs `ingest` on each mail of `mails` in processes of its own, four at once: two by files
/// in one batch, two by stdin one mail a process. Every mail goes in twice, from two processes.
fn ingest_concurrently(url: &str, dir: &std::path::Path, mails: &[(usize, usize)]) {
    let mut workers = Vec::new();
    for w in 0..4 {
        // Worker w takes the mails of residue w and (w + 1) % 4: each mail twice.
        let own: Vec<(usize, usize)> = mails
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 4 == w || i % 4 == (w + 1) % 4)
            .map(|(_, m)| *m)
            .collect();
        let url = url.to_string();
        let dir = dir.to_path_buf();
        workers.push(std::thread::spawn(move || {
            if w % 2 == 0 {
                let files: Vec<String> = own
                    .iter()
                    .map(|&(c, k)| {
                        let path = dir.join(format!("w{w}-{c}-{k}.eml"));
                        std::fs::write(&path, thread_mail(c, k)).unwrap();
                        path.display().to_string()
                    })
                    .collect();
                let mut args = vec!["ingest"];
                args.extend(files.iter().map(String::as_str));
                let out = run(&url, &args, "");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            } else {
                for &(c, k) in &own {
                    let out = run(&url, &["ingest"], &thread_mail(c, k));
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }));
    }
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn ingest_processes_beside_serve_and_forced_checkpoints_store_each_mail_once_in_its_thread() {
    use diesel::prelude::*;
    use madoguchi::db::schema::messages;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let db = crate::support::TestDb::new(crate::support::Backend::Sqlite);
    let mail_dir = db.dir.join("sent-mail");
    let serve = Serve::start(&db.url, &mail_dir, &[]);
    let db_file = db.dir.join("madoguchi.db");
    let stop = Arc::new(AtomicBool::new(false));
    let checkpoints = Arc::new(AtomicUsize::new(0));
    let checkpointer = {
        let (stop, checkpoints, file) = (stop.clone(), checkpoints.clone(), db_file.clone());
        std::thread::spawn(move || {
            let mut conn = SqliteConnection::establish(file.to_str().unwrap()).unwrap();
            conn.batch_execute("PRAGMA busy_timeout = 5000").unwrap();
            while !stop.load(Ordering::Relaxed) {
                if conn
                    .batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    .is_ok()
                {
                    checkpoints.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    const CONSULTERS: usize = 12;
    const FOLLOW_UPS: usize = 4;
    let firsts: Vec<_> = (0..CONSULTERS).map(|c| (c, 0)).collect();
    let later: Vec<_> = (0..CONSULTERS)
        .flat_map(|c| (1..=FOLLOW_UPS).map(move |k| (c, k)))
        .collect();
    let api = std::thread::spawn(move || {
        let codes: Vec<u16> = (0..10).map(|i| serve.consult(i)).collect();
        (serve, codes)
    });
    ingest_concurrently(&db.url, &db.dir, &firsts);
    ingest_concurrently(&db.url, &db.dir, &later);
    let (_serve, codes) = api.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    checkpointer.join().unwrap();
    assert!(codes.iter().all(|c| *c == 201), "{codes:?}");
    assert!(
        checkpoints.load(Ordering::Relaxed) >= 10,
        "the WAL was checkpointed throughout ({} times)",
        checkpoints.load(Ordering::Relaxed)
    );

    let mut conn = SqliteConnection::establish(db_file.to_str().unwrap()).unwrap();
    let rows: Vec<(i64, Option<String>)> = messages::table
        .select((messages::ticket_id, messages::rfc_message_id))
        .load(&mut conn)
        .unwrap();
    let mut ticket_of = std::collections::HashMap::new();
    for (ticket, id) in rows.iter().filter_map(|(t, id)| Some((*t, id.clone()?))) {
        if id.starts_with("wal-") {
            assert!(
                ticket_of.insert(id.clone(), ticket).is_none(),
                "{id} stored twice"
            );
        }
    }
    assert_eq!(
        ticket_of.len(),
        CONSULTERS * (1 + FOLLOW_UPS),
        "every mail stored"
    );
    let mut tickets = std::collections::HashSet::new();
    for c in 0..CONSULTERS {
        let first = ticket_of[&format!("wal-{c}-0@example.jp")];
        assert!(
            tickets.insert(first),
            "consulter {c} has a consultation of their own"
        );
        for k in 1..=FOLLOW_UPS {
            assert_eq!(
                ticket_of[&format!("wal-{c}-{k}@example.jp")],
                first,
                "mail {k} of consulter {c} joined its consultation"
            );
        }
    }
    let (check, ..) = stored(&db_file);
    assert_eq!(check, "ok");
}
