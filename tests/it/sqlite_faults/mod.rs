//! SQLite's own faults as an operator meets them (issue 17, point 4): a database that cannot
//! be written or is locked at start, a full disk, and `ingest` beside `serve`'s checkpoints.
//! The tests run as root (the CI container) and make small file systems of their own.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

mod checkpoint;
mod full_disk;

/// Words of the test mail that must never show in anything the service prints.
const SECRET_NAME: &str = "鈴木花子";
const SECRET_ADDRESS: &str = "hanako.suzuki@example.jp";

pub(super) fn mail(n: usize) -> String {
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
pub(super) fn run(url: &str, args: &[&str], stdin: &str) -> Output {
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
pub(super) fn refused(out: &Output, code: i32, says: &str) {
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
pub(super) struct Serve {
    child: std::process::Child,
    pub(super) port: u16,
}

impl Serve {
    pub(super) fn start(url: &str, mail_dir: &std::path::Path, extra: &[(&str, &str)]) -> Self {
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

    pub(super) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// POST a consultation to the API: the status.
    pub(super) fn consult(&self, i: usize) -> u16 {
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

/// What the database holds, read by a connection of the test's own: whether it passes
/// SQLite's integrity check, the mail taken (by Message-ID) and the API's consultations.
pub(super) fn stored(db_file: &std::path::Path) -> (String, Vec<String>, usize) {
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
