//! What the integration tests and the benchmarks share (`benches/common` includes this file
//! by path): a database made for one test or one measurement and removed after it (an SQLite
//! file in a folder of its own, or a PostgreSQL database), and base64 for building mail.
#![allow(dead_code)]

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL servers to make databases on: the first of `vars` that is set, else the
/// local server as every machine of ours runs it.
pub fn postgres_admin_urls(vars: &[&str]) -> Vec<String> {
    match vars.iter().find_map(|v| std::env::var(v).ok()) {
        Some(url) => vec![url],
        None => vec![
            "postgres://postgres@127.0.0.1:5432/postgres".into(),
            "postgres://root@127.0.0.1:5432/postgres".into(),
        ],
    }
}

pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    /// Holds the SQLite file, and whatever else the run writes (mail files, for instance).
    pub dir: PathBuf,
    pg: Option<(String, String)>,
    /// Left in place when dropped, to look into afterwards.
    pub keep: bool,
}

impl TestDb {
    /// For a test: on `MADOGUCHI_TEST_POSTGRES` or the local server; no PostgreSQL is a failure.
    pub fn new(backend: Backend) -> Self {
        Self::create(
            backend,
            "madoguchi_test",
            &postgres_admin_urls(&["MADOGUCHI_TEST_POSTGRES"]),
        )
        .unwrap_or_else(|e| panic!("{e} (set MADOGUCHI_TEST_POSTGRES)"))
    }

    /// A database named `prefix_<random>` with a folder of the same name.
    pub fn create(backend: Backend, prefix: &str, admin_urls: &[String]) -> Result<Self, String> {
        let name = format!("{prefix}_{}", madoguchi::random::hex_string::<8>());
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {name}: {e}"))?;
        let mut db = Self {
            backend,
            url: format!("sqlite://{}", dir.join("madoguchi.db").display()),
            dir,
            pg: None,
            keep: false,
        };
        if backend == Backend::Postgres {
            let (admin_url, mut admin) = admin_urls
                .iter()
                .find_map(|u| PgConnection::establish(u).ok().map(|c| (u.clone(), c)))
                .ok_or_else(|| format!("no PostgreSQL answers at {admin_urls:?}"))?;
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .map_err(|e| format!("cannot create database {name}: {e}"))?;
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(b, _)| b);
            db.url = format!("{base}/{name}");
            db.pg = Some((admin_url, name));
        }
        Ok(db)
    }

    /// The SQLite file with its journal files, if this is SQLite.
    pub fn sqlite_files(&self) -> Vec<PathBuf> {
        match self.backend {
            Backend::Sqlite => ["madoguchi.db", "madoguchi.db-wal"]
                .iter()
                .map(|f| self.dir.join(f))
                .collect(),
            Backend::Postgres => Vec::new(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept {} ({})", self.url, self.dir.display());
            return;
        }
        if let Some((admin_url, name)) = &self.pg
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Base64 as mail writes it, for building test and benchmark mail.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
