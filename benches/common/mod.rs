//! Shared by the benchmarks (each includes it with `#[path = "common/mod.rs"] mod common;`):
//! a throw-away database on SQLite or PostgreSQL (the tests' own), settings for it, realistic Japanese text,
//! latency statistics, and a probe of how busy the machine was while a figure was taken.
//!
//! Each bench uses only part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use madoguchi::config::{LogLevel, MailTransport, Settings, SqliteSynchronous};

// ---------------------------------------------------------------------------------------------
// Databases
// ---------------------------------------------------------------------------------------------

/// The throw-away database and base64 are the tests' own (one file, included by both).
#[path = "../../tests/it/support/shared.rs"]
mod shared;

use shared::TestDb;
pub use shared::base64;

mod text;
pub use text::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite with `database.sqlite_synchronous` "full" (the default) or "normal".
    Sqlite(SqliteSynchronous),
    Postgres,
}

impl Backend {
    pub fn label(self) -> String {
        match self {
            Self::Sqlite(sync) => format!("sqlite sync={}", sync.as_str()),
            Self::Postgres => "postgres".into(),
        }
    }
}

pub fn random_hex() -> String {
    madoguchi::random::hex_string::<6>()
}

/// A database made for one measurement and removed when dropped, with a temp folder beside it
/// (the SQLite file) and one for the `.eml` files the file transport writes ([`sent_dir`]); or
/// a kept one (`BenchDb::kept`), seeded once and measured again on later runs.
pub struct BenchDb {
    pub backend: Backend,
    url: String,
    dir: PathBuf,
    /// Where the file transport writes sent mail ([`BenchDb::mail_dir`]).
    sent: PathBuf,
    /// None for a kept database: nothing is removed.
    db: Option<TestDb>,
}

/// A fresh folder for sent mail, on `/dev/shm` when it can be written (else beside the
/// database). The file transport is a stand-in for the SMTP server a centre delivers to; on
/// ext4, after many files were removed (every earlier test's), the kernel's search for a free
/// inode took 9 % of all CPU under the POST load, which is the sink's cost, not the desk's.
/// `scripts/bench-pipe` does the same.
fn sent_dir(beside: &Path) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let dir = shm.join(format!("madoguchi_bench_sent_{}", random_hex()));
    match std::fs::create_dir(&dir) {
        Ok(()) => dir,
        Err(_) => beside.join("sent-mail"),
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        let keep = self.db.as_ref().is_some_and(|db| db.keep);
        if !keep && self.sent.starts_with("/dev/shm") {
            let _ = std::fs::remove_dir_all(&self.sent);
        }
    }
}

impl BenchDb {
    /// None (with a note on stderr) when the backend is not reachable, e.g. no PostgreSQL.
    /// PostgreSQL is `MADOGUCHI_BENCH_POSTGRES`, else the one the tests use, else the local
    /// server. `BENCH_KEEP_DB` keeps the database for looking into afterwards
    /// (`scripts/bench clean` removes it).
    pub fn new(backend: Backend) -> Option<Self> {
        let kind = match backend {
            Backend::Sqlite(_) => shared::Backend::Sqlite,
            Backend::Postgres => shared::Backend::Postgres,
        };
        match TestDb::create(kind, "madoguchi_bench", &admin_urls()) {
            Ok(mut db) => {
                db.keep = std::env::var_os("BENCH_KEEP_DB").is_some();
                Some(Self {
                    backend,
                    url: db.url.clone(),
                    sent: sent_dir(&db.dir),
                    dir: db.dir.clone(),
                    db: Some(db),
                })
            }
            Err(e) => {
                eprintln!("skipping {}: {e}", backend.label());
                None
            }
        }
    }

    /// A database that outlives the run when `BENCH_SCALE_DIR` is set: the SQLite file
    /// `$BENCH_SCALE_DIR/TAG.sqlite`, or the PostgreSQL database `madoguchi_kept_TAG` (made if
    /// missing; `scripts/bench clean` leaves it). Seeding a million tickets takes minutes, so
    /// reruns measure the same data. Without the variable, a throw-away one as `new`.
    pub fn kept(backend: Backend, tag: &str) -> Option<Self> {
        let Some(root) = std::env::var_os("BENCH_SCALE_DIR").map(PathBuf::from) else {
            return Self::new(backend);
        };
        let tag: String = tag
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if let Err(e) = std::fs::create_dir_all(&root) {
            eprintln!(
                "skipping {}: cannot create {}: {e}",
                backend.label(),
                root.display()
            );
            return None;
        }
        let url = match backend {
            Backend::Sqlite(_) => {
                format!("sqlite://{}", root.join(format!("{tag}.sqlite")).display())
            }
            Backend::Postgres => {
                use diesel::Connection;
                use diesel::connection::SimpleConnection;
                let name = format!("madoguchi_kept_{tag}");
                let found = admin_urls()
                    .into_iter()
                    .find_map(|u| diesel::PgConnection::establish(&u).ok().map(|c| (u, c)));
                let Some((admin_url, mut admin)) = found else {
                    eprintln!("skipping {}: no PostgreSQL answers", backend.label());
                    return None;
                };
                // Fails when it exists already, which is the point of keeping it.
                let _ = admin.batch_execute(&format!("CREATE DATABASE {name}"));
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(b, _)| b);
                format!("{base}/{name}")
            }
        };
        Some(Self {
            backend,
            url,
            sent: root.join("sent-mail"),
            dir: root,
            db: None,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The built-in defaults pointed at this database, quiet logs, mail written as files into
    /// the temp folder. Callers change what their measurement needs.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::defaults().expect("built-in settings");
        s.database.url = self.url.clone();
        if let Backend::Sqlite(sync) = self.backend {
            s.database.sqlite_synchronous = sync;
        }
        s.smtp.transport = MailTransport::File;
        s.smtp.file_dir = self.mail_dir().display().to_string();
        s.log.level = LogLevel::Warn;
        s
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.sent.clone()
    }

    /// Size of the SQLite database with its WAL, in MiB (None on PostgreSQL).
    pub fn sqlite_mib(&self) -> Option<f64> {
        let file = self.url.strip_prefix("sqlite://")?;
        let bytes: u64 = [file.to_string(), format!("{file}-wal")]
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        Some(bytes as f64 / (1024.0 * 1024.0))
    }
}

fn admin_urls() -> Vec<String> {
    shared::postgres_admin_urls(&["MADOGUCHI_BENCH_POSTGRES", "MADOGUCHI_TEST_POSTGRES"])
}

/// Which backends to measure: `BENCH_BACKENDS=sqlite-full,sqlite-normal,postgres` (the default).
pub fn backends_from_env() -> Vec<Backend> {
    let wanted = std::env::var("BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite-full,sqlite-normal,postgres".into());
    wanted
        .split(',')
        .filter_map(|b| match b.trim() {
            "sqlite-full" => Some(Backend::Sqlite(SqliteSynchronous::Full)),
            "sqlite-normal" => Some(Backend::Sqlite(SqliteSynchronous::Normal)),
            "postgres" => Some(Backend::Postgres),
            "" => None,
            other => panic!("BENCH_BACKENDS: unknown backend {other:?}"),
        })
        .collect()
}

/// A whole number from the environment, or the default.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

/// Errors from madoguchi to stderr, so a failing request is explained. (Warnings are left
/// out: some bench texts are flagged urgent, which warns when no supervisor exists.)
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::ERROR)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn remove_dir(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}

// ---------------------------------------------------------------------------------------------
// Statistics and tables
// ---------------------------------------------------------------------------------------------

/// Latencies of one measurement, in milliseconds.
pub struct Latencies(Vec<f64>);

impl Latencies {
    pub fn new(samples: Vec<Duration>) -> Self {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        Self(ms)
    }

    /// Nearest-rank percentile (p in 0..=100).
    pub fn pct(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    pub fn max(&self) -> f64 {
        self.0.last().copied().unwrap_or(f64::NAN)
    }

    pub fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len().max(1) as f64
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// A plain text table, columns padded to their widest cell.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self) {
        let width = |i: usize| {
            std::iter::once(&self.header)
                .chain(&self.rows)
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.header.len()).map(width).collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            println!("| {} |", padded.join(" | "));
        };
        line(&self.header);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        println!("|-{}-|", rule.join("-|-"));
        for r in &self.rows {
            line(r);
        }
    }
}

pub fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

/// Whether `BENCH_TINY` asks for the smallest run that still exercises every path (CI).
pub fn tiny() -> bool {
    std::env::var_os("BENCH_TINY").is_some_and(|v| !v.is_empty() && v != "0")
}

/// `default`, or `tiny` under `BENCH_TINY`; an explicit `name` in the environment wins.
pub fn env_size(name: &str, default: usize, tiny_size: usize) -> usize {
    env_usize(name, if tiny() { tiny_size } else { default })
}

/// A target's verdict as one machine-readable line, which `scripts/bench` gathers into its
/// closing table: `BENCH-RESULT<TAB>what<TAB>target<TAB>measured<TAB>met|missed`. At tiny
/// size the figure means nothing, so the verdict says `tiny` instead.
pub fn result(what: &str, target: &str, measured: &str, met: bool) {
    let verdict = if tiny() {
        "tiny"
    } else if met {
        "met"
    } else {
        "missed"
    };
    let clean = |s: &str| s.replace(['\t', '\n'], " ");
    println!(
        "BENCH-RESULT\t{}\t{}\t{}\t{verdict}",
        clean(what),
        clean(target),
        clean(measured)
    );
}

// ---------------------------------------------------------------------------------------------
// Machine load
// ---------------------------------------------------------------------------------------------

/// How busy the machine was during a measurement, from /proc: all CPUs, and this process
/// (with the children it waited for), so that work of other processes (another build) shows.
pub struct LoadProbe {
    machine: (u64, u64, u64),
    own: u64,
}

fn machine_ticks() -> (u64, u64, u64) {
    // cpu user nice system idle iowait irq softirq steal ...
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    if fields.len() < 5 {
        return (0, 0, 0);
    }
    let total: u64 = fields.iter().sum();
    (total, fields[3], fields[4])
}

fn own_ticks() -> u64 {
    // Fields 14-17 of /proc/self/stat (utime stime cutime cstime), after the ")" of the name.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum()
}

pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

impl LoadProbe {
    pub fn start() -> Self {
        Self {
            machine: machine_ticks(),
            own: own_ticks(),
        }
    }

    /// E.g. "cpu 93% (bench 71%, others 22%), iowait 3%" — shares of all cores together.
    pub fn finish(&self) -> String {
        let (total, idle, iowait) = machine_ticks();
        let d_total = total.saturating_sub(self.machine.0).max(1) as f64;
        let d_idle = idle.saturating_sub(self.machine.1) as f64;
        let d_iowait = iowait.saturating_sub(self.machine.2) as f64;
        let busy = (d_total - d_idle - d_iowait).max(0.0);
        let own = own_ticks().saturating_sub(self.own) as f64;
        let pct = |v: f64| (100.0 * v / d_total).round();
        format!(
            "cpu {}% (bench {}%, others {}%), iowait {}%",
            pct(busy),
            pct(own.min(busy)),
            pct((busy - own).max(0.0)),
            pct(d_iowait)
        )
    }
}

pub fn print_machine_header(what: &str) {
    println!("== {what}");
    println!("machine: {} CPUs, loadavg {} at start", cpus(), loadavg());
}
