//! A PostgreSQL cluster of the soak's own, made with the machine's PostgreSQL 15 binaries in a
//! temp folder on a free port, so that it can be restarted mid-run without touching the server
//! other tests share on :5432. Stopped and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// Where Debian puts PostgreSQL 15; `SOAK_PG_BIN` points elsewhere.
fn bin(name: &str) -> PathBuf {
    let dir = std::env::var("SOAK_PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    Path::new(&dir).join(name)
}

pub struct PgCluster {
    /// Holds the data folder (`data`) and the server's log (`server.log`).
    dir: PathBuf,
    pub port: u16,
}

/// Runs a PostgreSQL tool as the `postgres` OS user (the server refuses root); its output on
/// failure.
fn as_postgres(tool: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin(tool))
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {tool} as postgres: {e}"))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(said)
    } else {
        Err(format!("{tool} {args:?} failed ({}): {said}", out.status))
    }
}

impl PgCluster {
    /// initdb, then start on a free port listening on 127.0.0.1 only, with trust sign-in.
    pub fn start() -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!(
            "madoguchi_bench_soak_pg_{}",
            madoguchi::random::hex_string::<6>()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let chown = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !chown.success() {
            return Err(format!("cannot give {} to postgres", dir.display()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("no free port: {e}"))?;
        let cluster = Self { dir, port };
        let data = cluster.data();
        as_postgres(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
        )?;
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            cluster.dir.display()
        );
        let log = cluster.dir.join("server.log").display().to_string();
        as_postgres(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &options, "-w", "start"],
        )?;
        let mut admin = cluster.connect("postgres")?;
        admin
            .batch_execute("CREATE DATABASE madoguchi")
            .map_err(|e| format!("CREATE DATABASE: {e}"))?;
        Ok(cluster)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/madoguchi", self.port)
    }

    pub fn connect(&self, db: &str) -> Result<PgConnection, String> {
        let url = format!("postgres://postgres@127.0.0.1:{}/{db}", self.port);
        PgConnection::establish(&url).map_err(|e| format!("{url}: {e}"))
    }

    /// `pg_ctl restart -m fast`: every connection is cut, the server is down for a moment and
    /// comes back with the same options. Returns how long pg_ctl took.
    pub fn restart(&self) -> Result<Duration, String> {
        let start = Instant::now();
        // The log again: without it the server would write to pg_ctl's own output.
        let log = self.dir.join("server.log").display().to_string();
        as_postgres(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-m",
                "fast",
                "-w",
                "restart",
            ],
        )?;
        Ok(start.elapsed())
    }

    /// The server's own log, for a failure's explanation.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = as_postgres(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
