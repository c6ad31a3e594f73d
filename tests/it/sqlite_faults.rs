//! SQLite's own faults as an operator meets them (issue 17, point 4): a database that cannot
//! be written or is locked at start, a full disk, and `ingest` beside `serve`'s checkpoints.
//! The tests run as root (the CI container) and make small file systems of their own.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

/// Words of the test mail that must never show in anything the service prints.
const SECRET_NAME: &str = "鈴木花子";
const SECRET_ADDRESS: &str = "hanako.suzuki@example.jp";

fn mail(n: usize) -> String {
    format!(
        "From: {SECRET_NAME} <{SECRET_ADDRESS}>\r\nTo: soudan@center.example\r\n\
         Subject: =?UTF-8?B?{}?=\r\nMessage-ID: <fault-{n}@example.jp>\r\n\
         Date: Wed, 02 Dec 2026 10:00:00 +0900\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{SECRET_NAME}です。相談 {n}\r\n",
        crate::support::base64("眠れません".as_bytes())
    )
}

/// A tmpfs of `size` mounted on a fresh folder, unmounted (and removed) when dropped.
pub struct SmallDisk {
    pub dir: PathBuf,
}

impl SmallDisk {
    pub fn mount(size: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "madoguchi_disk_{}",
            madoguchi::random::hex_string::<8>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "these tests make a small file system of their own and must run as root \
             (uid 0) where mount works: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    pub fn remount(&self, option: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{option}")])
            .arg(&self.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn url(&self, file: &str) -> String {
        format!("sqlite://{}", self.dir.join(file).display())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// `madoguchi ARGS` on `url`, a mail on stdin, killed if it runs for more than a minute.
fn run(url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .args(args)
        .env("MADOGUCHI_DATABASE__URL", url)
        .env("MADOGUCHI_SERVER__BIND", "127.0.0.1:0")
        .env("MADOGUCHI_INTAKE__RATE_LIMIT_PER_HOUR", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("madoguchi runs");
    let mut input = child.stdin.take().unwrap();
    let _ = std::io::Write::write_all(&mut input, stdin.as_bytes());
    drop(input);
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    });
    let out = child.wait_with_output().unwrap();
    drop(watchdog);
    out
}

/// The exit code, and that stderr says why on one line without a word of the mail.
fn refused(out: &Output, code: i32, says: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("madoguchi:"))
        .collect();
    assert_eq!(lines.len(), 1, "one line says why: {stderr}");
    assert!(
        lines[0].contains(says),
        "{:?} should say {says:?}",
        lines[0]
    );
    for secret in [SECRET_NAME, SECRET_ADDRESS, "相談", "眠れません"] {
        assert!(!stderr.contains(secret), "{secret} leaked: {stderr}");
    }
}

#[test]
fn a_read_only_database_or_folder_at_start_exits_78_with_the_reason() {
    let disk = SmallDisk::mount("4m");
    let url = disk.url("madoguchi.db");
    let out = run(&url, &["migrate"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    disk.remount("ro");
    for args in [&["migrate"][..], &["serve"], &["ingest"]] {
        let out = run(&url, args, &mail(1));
        refused(&out, 78, "read-only");
    }
    // A new database in a folder that cannot be written.
    for file in ["new.db", "sub/new.db"] {
        let out = run(&disk.url(file), &["migrate"], "");
        refused(&out, 78, "read-only");
    }
}

#[test]
fn a_database_locked_by_another_process_at_start_exits_75() {
    let disk = SmallDisk::mount("4m");
    let url = disk.url("madoguchi.db");
    let out = run(&url, &["migrate"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // As `sqlite3 madoguchi.db` does after `PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;`.
    let mut holder =
        SqliteConnection::establish(disk.dir.join("madoguchi.db").to_str().unwrap()).unwrap();
    holder
        .batch_execute("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; SELECT 1;")
        .unwrap();
    let runs: Vec<_> = [&["migrate"][..], &["serve"], &["ingest"]]
        .into_iter()
        .map(|args| {
            let url = url.clone();
            std::thread::spawn(move || run(&url, args, &mail(1)))
        })
        .collect();
    for out in runs {
        refused(&out.join().unwrap(), 75, "locked by another process");
    }
    drop(holder);
    // Once the lock is gone the mail is taken.
    let out = run(&url, &["ingest"], &mail(1));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `madoguchi serve` process on `url` with the `file` transport into `mail_dir`, killed
/// when dropped.
struct Serve {
    child: std::process::Child,
    port: u16,
}

impl Serve {
    fn start(url: &str, mail_dir: &std::path::Path, extra: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
            .arg("serve")
            .env("MADOGUCHI_DATABASE__URL", url)
            .env("MADOGUCHI_SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("MADOGUCHI_SMTP__TRANSPORT", "file")
            .env("MADOGUCHI_SMTP__FILE_DIR", mail_dir)
            .env("MADOGUCHI_INTAKE__RATE_LIMIT_PER_HOUR", "0")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("madoguchi serve starts");
        let serve = Self { child, port };
        let up = crate::support::eventually(Duration::from_secs(30), || {
            ureq::get(&serve.url("/healthz")).call().ok().map(|_| ())
        });
        assert!(up.is_some(), "serve answers /healthz");
        serve
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// POST a consultation to the API: the status.
    fn consult(&self, i: usize) -> u16 {
        let body = crate::support::consultation(&format!("full{i}@example.jp"));
        match ureq::post(&self.url("/api/v1/consultations"))
            .config()
            .http_status_as_error(false)
            .build()
            .send_json(&body)
        {
            Ok(r) => r.status().as_u16(),
            Err(e) => panic!("no answer: {e}"),
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fills the file system of `dir` to the last byte with `dir/filler`.
fn fill(dir: &std::path::Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    for chunk in [vec![0u8; 64 * 1024], vec![0u8; 4096], vec![0u8; 1]] {
        while file.write_all(&chunk).is_ok() {}
    }
    let _ = file.sync_all();
    path
}

/// What the database holds, read by a connection of the test's own: whether it passes
/// SQLite's integrity check, the mail taken (by Message-ID) and the API's consultations.
fn stored(db_file: &std::path::Path) -> (String, Vec<String>, usize) {
    use diesel::prelude::*;
    use madoguchi::db::schema::messages;
    let mut conn = SqliteConnection::establish(db_file.to_str().unwrap()).unwrap();
    let check: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "(SELECT group_concat(integrity_check) FROM pragma_integrity_check)",
    ))
    .get_result(&mut conn)
    .unwrap();
    let mut mail: Vec<String> = messages::table
        .select(messages::rfc_message_id)
        .load::<Option<String>>(&mut conn)
        .unwrap()
        .into_iter()
        .flatten()
        .filter(|id| id.contains("fault-"))
        .collect();
    mail.sort();
    let api = messages::table
        .filter(messages::body_text.like("息子が3年%"))
        .count()
        .get_result::<i64>(&mut conn)
        .unwrap();
    (check, mail, usize::try_from(api).unwrap())
}

fn ids(ns: &[usize]) -> Vec<String> {
    let mut v: Vec<String> = ns.iter().map(|n| format!("fault-{n}@example.jp")).collect();
    v.sort();
    v
}

#[test]
fn a_full_disk_refuses_with_75_and_503_keeps_what_was_taken_and_recovers() {
    let disk = SmallDisk::mount("6m");
    let url = disk.url("madoguchi.db");
    let db_file = disk.dir.join("madoguchi.db");
    let mail_dir = disk.dir.join("sent-mail");
    let serve = Serve::start(&url, &mail_dir, &[]);
    assert_eq!(serve.consult(0), 201);
    let out = run(&url, &["ingest"], &mail(0));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut taken = vec![0];
    let mut consultations = 1;

    // The consultation form as a person has it open: served before the disk fills.
    let page = ureq::get(&serve.url("/consult"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let token = crate::support::hidden_value(&page, "form_token").expect("a form token");
    let filler = fill(&disk.dir);
    // A person takes a few seconds to write (the form refuses quicker posts).
    std::thread::sleep(Duration::from_secs(3));
    // Pages SQLite holds already may take a few more; the first refusal must come soon.
    let mut refused_mail = None;
    for n in 1..40 {
        let out = run(&url, &["ingest"], &mail(n));
        match out.status.code() {
            Some(0) => taken.push(n),
            Some(75) => {
                refused(&out, 75, "disk is full");
                refused_mail = Some(n);
                break;
            }
            other => panic!(
                "ingest on a full disk: {other:?} {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    let refused_mail = refused_mail.expect("ingest refuses on a full disk");
    let mut saw_503 = false;
    for i in 1..40 {
        match serve.consult(i) {
            201 => consultations += 1,
            503 => {
                saw_503 = true;
                break;
            }
            other => panic!("the API on a full disk answered {other}"),
        }
    }
    assert!(saw_503, "the API answers 503 while the disk is full");
    let mut form = ureq::post(&serve.url("/consult"))
        .config()
        .http_status_as_error(false)
        .build()
        .send_form([
            ("email", "form@example.jp"),
            ("relationship", "self"),
            ("subject", "件名"),
            ("body", "夜になると不安です"),
            ("consent", "true"),
            ("form_token", token.as_str()),
            ("homepage", ""),
        ])
        .unwrap();
    assert_eq!(
        form.status().as_u16(),
        503,
        "the form answers 503 while the disk is full"
    );
    let page = form.body_mut().read_to_string().unwrap();
    assert!(
        page.contains("夜になると不安です"),
        "the consulter's text is kept on the page"
    );
    let (check, mail_held, api_held) = stored(&db_file);
    assert_eq!(check, "ok");
    assert_eq!(mail_held, ids(&taken), "exactly the mail acknowledged");
    assert_eq!(
        api_held, consultations,
        "exactly the consultations answered 201"
    );

    // Space returns: the same mail is taken and the same server serves, without a restart.
    std::fs::remove_file(filler).unwrap();
    let out = run(&url, &["ingest"], &mail(refused_mail));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    taken.push(refused_mail);
    assert_eq!(serve.consult(100), 201);
    consultations += 1;
    let (check, mail_held, api_held) = stored(&db_file);
    assert_eq!(check, "ok");
    assert_eq!(mail_held, ids(&taken));
    assert_eq!(api_held, consultations);
    // Every acknowledgement is written in the end, each whole: none half-written, no leftovers.
    let written = crate::support::eventually(Duration::from_secs(30), || {
        let files: Vec<_> = std::fs::read_dir(&mail_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        (files.len() >= consultations).then_some(files)
    })
    .expect("the acknowledgements are written once space returns");
    for file in written {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.ends_with(".eml") && !name.starts_with('.'), "{name}");
        let raw = std::fs::read(&file).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert!(parsed.body_text(0).is_some(), "{name} is whole");
    }
}

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

#[test]
fn a_folder_or_file_the_service_user_cannot_write_exits_78() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    const NOBODY: u32 = 65534;
    let base = std::env::temp_dir().join(format!(
        "madoguchi_perm_{}",
        madoguchi::random::hex_string::<8>()
    ));
    let folder = base.join("data");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
    let url = format!("sqlite://{}", folder.join("madoguchi.db").display());
    let out = run(&url, &["migrate"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let as_nobody = || {
        Command::new(env!("CARGO_BIN_EXE_madoguchi"))
            .arg("migrate")
            .env("MADOGUCHI_DATABASE__URL", &url)
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .unwrap()
    };
    // The file is root's own (0600): the service's user cannot even open it.
    refused(&as_nobody(), 78, "read-only or not ours");
    // The file is the user's, the folder is not writable: SQLite cannot make its -shm file.
    std::os::unix::fs::chown(&folder, Some(NOBODY), Some(NOBODY)).unwrap();
    std::os::unix::fs::chown(folder.join("madoguchi.db"), Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o500)).unwrap();
    refused(&as_nobody(), 78, "its folder must be writable");
    let _ = std::fs::remove_dir_all(&base);
}
