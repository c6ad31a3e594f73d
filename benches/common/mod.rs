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
/// (the SQLite file, and the `.eml` files the file transport writes).
pub struct BenchDb {
    pub backend: Backend,
    db: TestDb,
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
        let admin =
            shared::postgres_admin_urls(&["MADOGUCHI_BENCH_POSTGRES", "MADOGUCHI_TEST_POSTGRES"]);
        match TestDb::create(kind, "madoguchi_bench", &admin) {
            Ok(mut db) => {
                db.keep = std::env::var_os("BENCH_KEEP_DB").is_some();
                Some(Self { backend, db })
            }
            Err(e) => {
                eprintln!("skipping {}: {e}", backend.label());
                None
            }
        }
    }

    pub fn url(&self) -> &str {
        &self.db.url
    }

    pub fn dir(&self) -> &Path {
        &self.db.dir
    }

    /// The built-in defaults pointed at this database, quiet logs, mail written as files into
    /// the temp folder. Callers change what their measurement needs.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::defaults().expect("built-in settings");
        s.database.url = self.db.url.clone();
        if let Backend::Sqlite(sync) = self.backend {
            s.database.sqlite_synchronous = sync;
        }
        s.smtp.transport = MailTransport::File;
        s.smtp.file_dir = self.mail_dir().display().to_string();
        s.log.level = LogLevel::Warn;
        s
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.db.dir.join("sent-mail")
    }

    /// Size of the SQLite database with its WAL, in MiB (None on PostgreSQL).
    pub fn sqlite_mib(&self) -> Option<f64> {
        let files = self.db.sqlite_files();
        if files.is_empty() {
            return None;
        }
        let bytes: u64 = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        Some(bytes as f64 / (1024.0 * 1024.0))
    }
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

// ---------------------------------------------------------------------------------------------
// Realistic text
// ---------------------------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so runs are comparable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// 0..n
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability p.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Sentences of the kind the centre receives. All are in JIS X 0208, so they also encode as
/// ISO-2022-JP.
const SENTENCES: &[&str] = &[
    "はじめてご連絡いたします。",
    "息子が高校を中退してから、もう五年ほど自分の部屋からほとんど出てきません。",
    "食事は部屋の前に置いておくと、夜中に食べているようです。",
    "最近は昼と夜が逆転していて、家族ともほとんど顔を合わせなくなりました。",
    "私自身、どのように声をかけたらよいのか分からなくなっています。",
    "夫は「放っておけばそのうち出てくる」と言いますが、私はとても心配です。",
    "以前、病院に連れて行こうとしたことがありますが、強く拒まれてしまいました。",
    "本人は電話が苦手なので、まずはメールで相談できればと思いました。",
    "私は三十代で、大学を卒業してから一度も働いたことがありません。",
    "人と話すことが怖くなり、コンビニに行くのにも勇気が必要です。",
    "親も高齢になり、このままではいけないと頭では分かっています。",
    "同じような経験をした人と話せる場所があれば、参加してみたいです。",
    "訪問していただくことは可能でしょうか。",
    "札幌市内に住んでおり、平日の日中であれば時間を作ることができます。",
    "娘は中学二年生の秋から学校に行けなくなり、今は二十二歳になりました。",
    "インターネットだけが外とのつながりになっているようです。",
    "家の中では穏やかに過ごしていますが、将来の話をすると黙ってしまいます。",
    "兄弟との関係も悪くなってしまい、家の中の空気が重く感じられます。",
    "支援センターではどのような相談ができるのか、教えていただけますでしょうか。",
    "長文になってしまい申し訳ありません。どうぞよろしくお願いいたします。",
];

const SUBJECTS: &[&str] = &[
    "息子のことで相談です",
    "娘がひきこもっています",
    "自分自身のことでご相談",
    "家族の接し方について",
    "訪問相談について教えてください",
    "兄のことで悩んでいます",
    "はじめての相談です",
    "今後の生活について",
];

const FAMILY_NAMES: &[&str] = &[
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田",
];
const GIVEN_NAMES: &[&str] = &[
    "花子", "太郎", "美咲", "健一", "由美", "誠", "直子", "翔太", "恵子", "大輔",
];

/// A consultation text of at least `min_bytes` UTF-8 bytes (Japanese is 3 bytes a character),
/// made distinct by `n`.
pub fn japanese_body(rng: &mut Rng, min_bytes: usize, n: usize) -> String {
    let mut body = format!("相談番号{n}番としてお送りします。\n");
    while body.len() < min_bytes {
        body.push_str(rng.pick::<&str>(SENTENCES));
        if rng.chance(0.3) {
            body.push('\n');
        }
    }
    body
}

pub fn japanese_subject(rng: &mut Rng) -> &'static str {
    rng.pick::<&str>(SUBJECTS)
}

pub fn japanese_name(rng: &mut Rng) -> String {
    format!("{} {}", rng.pick(FAMILY_NAMES), rng.pick(GIVEN_NAMES))
}

// ---------------------------------------------------------------------------------------------
// Mail encodings (the benches write raw mail as Japanese clients send it)
// ---------------------------------------------------------------------------------------------

/// Base64 in lines of 76 characters, CRLF-ended, as a body part.
pub fn base64_lines(bytes: &[u8]) -> String {
    let encoded = base64(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or(""));
        out.push_str("\r\n");
    }
    out
}

/// Quoted-printable with soft line breaks before 76 characters.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let mut len = 0;
        for &b in line.as_bytes() {
            let piece = if (b.is_ascii_graphic() && b != b'=') || b == b' ' {
                (b as char).to_string()
            } else {
                format!("={b:02X}")
            };
            if len + piece.len() > 75 {
                out.push_str("=\r\n");
                len = 0;
            }
            len += piece.len();
            out.push_str(&piece);
        }
        out.push_str("\r\n");
    }
    out
}

/// An RFC 2047 encoded word in UTF-8 (B encoding).
pub fn encoded_word_utf8(text: &str) -> String {
    format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
}

/// Text in ISO-2022-JP, as older Japanese clients and phones still send it.
pub fn iso2022jp(text: &str) -> Vec<u8> {
    let (bytes, _, had_errors) = encoding_rs::ISO_2022_JP.encode(text);
    assert!(!had_errors, "text outside JIS X 0208: {text}");
    bytes.into_owned()
}

/// Breaks Japanese text into lines of at most `chars` characters, CRLF-ended.
pub fn wrap(text: &str, chars: usize) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let all: Vec<char> = line.chars().collect();
        for piece in all.chunks(chars.max(1)) {
            out.extend(piece);
            out.push_str("\r\n");
        }
        if all.is_empty() {
            out.push_str("\r\n");
        }
    }
    out
}
