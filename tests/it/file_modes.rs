//! Stored data is private (issue 10, point 19): the SQLite database, its WAL and SHM files,
//! mail written by the `file` transport, and their folders are the owner's alone, even when
//! the service is started with umask 000.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::both_backends;
use crate::support::{Backend, TestDb, consultation, eventually};

both_backends!(stored_data_is_the_owners_alone_whatever_the_umask);

/// `madoguchi serve` started under umask 000; killed when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn stored_data_is_the_owners_alone_whatever_the_umask(backend: Backend) {
    let db = TestDb::new(backend);
    let data = db.dir.join("data");
    let sqlite_file = data.join("db/madoguchi.db");
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}", sqlite_file.display()),
        Backend::Postgres => db.url.clone(),
    };
    let mail_dir = data.join("mail/sent");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" serve")
        .arg(env!("CARGO_BIN_EXE_madoguchi"))
        .env("MADOGUCHI_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("MADOGUCHI_DATABASE__URL", &url)
        .env("MADOGUCHI_SMTP__TRANSPORT", "file")
        .env("MADOGUCHI_SMTP__FILE_DIR", &mail_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _served = Served(child);
    let http: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let base = format!("http://127.0.0.1:{port}");
    let up = eventually(Duration::from_secs(30), || {
        http.get(format!("{base}/healthz"))
            .call()
            .ok()
            .filter(|r| r.status() == 200)
    });
    assert!(up.is_some(), "the server did not start");
    let r = http
        .post(format!("{base}/api/v1/consultations"))
        .send_json(consultation("hanako@example.jp"))
        .unwrap();
    assert_eq!(r.status(), 201);
    let eml: Option<PathBuf> = eventually(Duration::from_secs(30), || {
        std::fs::read_dir(&mail_dir).ok()?.find_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "eml").then_some(p)
        })
    });
    let eml = eml.expect("the acknowledgement was written");
    assert_eq!(mode(&eml), 0o600, "{}", eml.display());
    assert_eq!(mode(&mail_dir), 0o700);
    assert_eq!(mode(&data.join("mail")), 0o700);
    if backend == Backend::Sqlite {
        for file in ["madoguchi.db", "madoguchi.db-wal", "madoguchi.db-shm"] {
            assert_eq!(mode(&data.join("db").join(file)), 0o600, "{file}");
        }
        assert_eq!(mode(&data.join("db")), 0o700);
        assert_eq!(mode(&data), 0o700);
    }
}
