//! The soak's driver (issue 17, point 6), shared by `benches/soak.rs` (30 minutes) and the
//! short CI run in `tests/it/soak.rs`: the real `madoguchi serve` on a PostgreSQL cluster of
//! its own, mixed load from every door at once, `kill -9` of serve and a PostgreSQL restart
//! in the middle, then every acknowledged item looked for and serve's memory summed up.
//!
//! Self-contained (it includes the tests' SMTP server, Dovecot and serve process by path), so
//! the bench and the test run exactly this code.
#![allow(dead_code)]
// In the test binary the support files are also `crate::support`; this copy stays apart so that
// the bench and the test compile the very same driver.
#![allow(clippy::duplicate_mod)]

#[path = "check.rs"]
mod check;
#[path = "cluster.rs"]
mod cluster;
#[path = "../support/dovecot.rs"]
mod dovecot;
#[path = "load.rs"]
mod load;
#[path = "mail_in.rs"]
mod mail_in;
#[path = "../support/process.rs"]
mod process;
#[path = "report.rs"]
mod report;
#[path = "../support/shared.rs"]
mod shared;
#[path = "../support/smtp_server.rs"]
mod smtp_server;
#[path = "staff.rs"]
mod staff;

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use report::Report;
pub use shared::base64;

/// Used by the serve process's helper.
pub fn eventually<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Plan {
    pub seconds: f64,
    /// Multiplies how often every client acts (1.0: about 12 consultations and 2 replies a
    /// second in all).
    pub rate: f64,
    /// When serve is killed with SIGKILL and started again, as a share of the run.
    pub kill_at: f64,
    /// When PostgreSQL is restarted (`pg_ctl restart -m fast`), as a share of the run.
    pub pg_restart_at: Option<f64>,
    pub sample_every: Duration,
    /// Seconds of each serve process's life left out when comparing its memory early and late.
    pub warm_up: f64,
    /// The most the late tenth of a process's RSS may exceed the early tenth, in per cent.
    pub memory_bound_pct: f64,
    /// How long clients keep retrying an item once the time is up.
    pub drain: Duration,
}

impl Plan {
    /// The benchmark: BENCH_SOAK_SECONDS (1800), BENCH_SOAK_RATE (1.0).
    pub fn bench() -> Self {
        let num = |name: &str, default: f64| match std::env::var(name) {
            Ok(v) => v
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}")),
            Err(_) => default,
        };
        let seconds = num("BENCH_SOAK_SECONDS", 1800.0);
        Self {
            seconds,
            rate: num("BENCH_SOAK_RATE", 1.0),
            kill_at: 0.5,
            pg_restart_at: Some(0.6),
            sample_every: Duration::from_secs(5),
            warm_up: (seconds * 0.05).clamp(5.0, 120.0),
            memory_bound_pct: 25.0,
            drain: Duration::from_secs(60),
        }
    }

    /// The short version CI runs.
    pub fn ci(seconds: f64) -> Self {
        Self {
            seconds,
            rate: 1.0,
            kill_at: 0.4,
            pg_restart_at: Some(0.7),
            sample_every: Duration::from_millis(250),
            warm_up: 3.0,
            memory_bound_pct: 25.0,
            drain: Duration::from_secs(30),
        }
    }
}

/// Something that happened to the service during the run.
pub struct Event {
    pub what: String,
    pub at: f64,
    /// Until the service was back (serve logging "serving", pg_ctl returning).
    pub took: f64,
}

const FORM_SECRET: &str = "soak-form-secret-kept-across-restarts-0123456789abcdef";

fn config(
    pg: &cluster::PgCluster,
    smtp: &smtp_server::TestSmtpServer,
    imap: &dovecot::Dovecot,
) -> Vec<(String, String)> {
    [
        ("MADOGUCHI_DATABASE__URL", pg.url()),
        ("MADOGUCHI_SERVER__WORKERS", "2".into()),
        ("MADOGUCHI_SMTP__TRANSPORT", "smtp".into()),
        ("MADOGUCHI_SMTP__HOST", "127.0.0.1".into()),
        ("MADOGUCHI_SMTP__PORT", smtp.port().to_string()),
        ("MADOGUCHI_SMTP__TLS", "none".into()),
        ("MADOGUCHI_SMTP__RETRY_BASE_SECONDS", "1".into()),
        ("MADOGUCHI_SMTP__TIMEOUT_SECONDS", "10".into()),
        ("MADOGUCHI_IMAP__ENABLED", "true".into()),
        ("MADOGUCHI_IMAP__PORT", imap.port.to_string()),
        ("MADOGUCHI_IMAP__USERNAME", dovecot::USER.into()),
        ("MADOGUCHI_IMAP__PASSWORD", dovecot::PASSWORD.into()),
        ("MADOGUCHI_IMAP__POLL_SECONDS", "1".into()),
        ("MADOGUCHI_INTAKE__RATE_LIMIT_PER_HOUR", "0".into()),
        // The same secret after a restart, as several instances share one: a form served by
        // the killed process is taken by the next.
        ("MADOGUCHI_INTAKE__FORM_SECRET", FORM_SECRET.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `madoguchi staff add`, the password on stdin.
fn staff_add(env: &[(String, String)], email: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .args([
            "staff",
            "add",
            "--email",
            email,
            "--name",
            "浸水 試験",
            "--role",
            "supervisor",
        ])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("madoguchi staff add runs");
    let password = format!("{}\n", staff::STAFF_PASSWORD);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "staff add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_serve(env: &[(String, String)]) -> process::ServeProcess {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let url = &env[0].1;
    process::ServeProcess::start(url, &pairs)
}

/// Two staff sign-ins at once, as on a busy morning, right after serve starts. Each password
/// check takes 19 MiB (argon2id), at most one per core at once, and the allocator keeps that
/// memory for the next: the step belongs to the warm-up, not to growth under load.
fn warm_up(port: u16, staff: &[String]) {
    std::thread::scope(|s| {
        for email in staff {
            s.spawn(move || {
                let login = serde_json::json!({"email": email, "password": staff::STAFF_PASSWORD});
                let answer = ureq::post(format!("http://127.0.0.1:{port}/api/v1/auth/login"))
                    .send_json(&login);
                assert!(answer.is_ok(), "warm-up sign-in: {answer:?}");
            });
        }
    });
}

/// Sleeps until `at` seconds after the start.
fn sleep_until(shared: &load::Shared, at: f64) {
    let left = at - shared.secs();
    if left > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(left));
    }
}

pub fn run(plan: &Plan) -> Report {
    let probe = report::Load::start();
    let pg = cluster::PgCluster::start().unwrap_or_else(|e| panic!("the soak's PostgreSQL: {e}"));
    let smtp = smtp_server::TestSmtpServer::start();
    let imap = Arc::new(dovecot::Dovecot::start());
    let env = config(&pg, &smtp, &imap);
    let staff: Vec<String> = (1..=2)
        .map(|i| format!("soak-staff-{i}@center.example"))
        .collect();
    for email in &staff {
        staff_add(&env, email);
    }
    let mail_dir = std::env::temp_dir().join(format!(
        "madoguchi_bench_soak_mail_{}",
        madoguchi::random::hex_string::<6>()
    ));
    std::fs::create_dir_all(&mail_dir).unwrap();

    let mut serve = start_serve(&env);
    warm_up(serve.port, &staff);
    let shared = Arc::new(load::Shared {
        started: Instant::now(),
        port: AtomicU16::new(serve.port),
        stop: AtomicBool::new(false),
        give_up_at_ms: AtomicU64::new(0),
        next_item: AtomicUsize::new(0),
        ledger: Mutex::new(load::Ledger::default()),
        env: env.clone(),
        bin: env!("CARGO_BIN_EXE_madoguchi").into(),
        mail_dir: mail_dir.clone(),
    });

    let _stop_clients = StopOnDrop(shared.clone());

    // serve's memory, from /proc, every few seconds; the process number goes up at a restart.
    let pid = Arc::new(AtomicU32::new(serve.pid()));
    let process_no = Arc::new(AtomicU32::new(1));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (shared, pid, process_no, sampling) = (
            shared.clone(),
            pid.clone(),
            process_no.clone(),
            sampling.clone(),
        );
        let every = plan.sample_every;
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while sampling.load(Ordering::Relaxed) {
                let p = process_no.load(Ordering::Relaxed);
                if let Some(kb) = rss_kb(pid.load(Ordering::Relaxed)) {
                    samples.push((shared.secs(), p, kb));
                }
                std::thread::sleep(every);
            }
            samples
        })
    };

    let beat = |base_ms: f64| Duration::from_secs_f64(base_ms / 1000.0 / plan.rate);
    let mut workers: Vec<std::thread::JoinHandle<load::Kinds>> = Vec::new();
    let mut seed = 0u64;
    let mut next_seed = || {
        seed += 1;
        seed
    };
    for _ in 0..2 {
        let (s, b, n) = (shared.clone(), beat(250.0), next_seed());
        workers.push(std::thread::spawn(move || load::api(s, b, n)));
    }
    for _ in 0..3 {
        let (s, b, n) = (shared.clone(), beat(0.0), next_seed());
        workers.push(std::thread::spawn(move || load::form(s, b, n)));
    }
    {
        let (s, b, n) = (shared.clone(), beat(500.0), next_seed());
        workers.push(std::thread::spawn(move || mail_in::ingest(s, b, n)));
        let (s, m, b, n) = (shared.clone(), imap.clone(), beat(1000.0), next_seed());
        workers.push(std::thread::spawn(move || mail_in::imap(s, m, b, n)));
    }
    for email in &staff {
        let (s, e, b, n) = (shared.clone(), email.clone(), beat(500.0), next_seed());
        workers.push(std::thread::spawn(move || staff::staff(s, e, b, n)));
    }

    let mut events = Vec::new();
    sleep_until(&shared, plan.seconds * plan.kill_at);
    let at = shared.secs();
    let killed = std::process::Command::new("kill")
        .args(["-9", &serve.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success(), "kill -9 of serve failed");
    drop(serve); // reaps it
    serve = start_serve(&env);
    shared.port.store(serve.port, Ordering::Relaxed);
    let took = shared.secs() - at;
    process_no.store(2, Ordering::Relaxed);
    pid.store(serve.pid(), Ordering::Relaxed);
    warm_up(serve.port, &staff);
    events.push(Event {
        what: "serve killed (SIGKILL) and started again".into(),
        at,
        took,
    });
    if let Some(share) = plan.pg_restart_at {
        sleep_until(&shared, plan.seconds * share);
        let at = shared.secs();
        let took = pg
            .restart()
            .unwrap_or_else(|e| panic!("PostgreSQL restart: {e}\n{}", pg.log()));
        events.push(Event {
            what: "PostgreSQL restarted (pg_ctl restart -m fast)".into(),
            at,
            took: took.as_secs_f64(),
        });
    }
    sleep_until(&shared, plan.seconds);
    let load_ended = shared.secs();
    shared.give_up_at_ms.store(
        (shared.started.elapsed() + plan.drain).as_millis() as u64,
        Ordering::Relaxed,
    );
    shared.stop.store(true, Ordering::Relaxed);
    let mut kinds = load::Kinds::new();
    for w in workers {
        for (kind, stats) in w.join().expect("a client thread") {
            kinds.entry(kind).or_default().merge(&stats);
        }
    }
    let drained = shared.secs();

    let mut conn = pg.connect("madoguchi").expect("the soak's database");
    let ledger = shared.ledger.lock().unwrap();
    check::wait_for_mailbox(&mut conn, &ledger, Duration::from_secs(60));
    check::wait_for_outbox(&mut conn, Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(1));
    sampling.store(false, Ordering::Relaxed);
    let samples = sampler.join().expect("the sampler");
    if std::env::var_os("SOAK_RSS_DUMP").is_some() {
        for (t, p, kb) in &samples {
            eprintln!("rss {t:.1} s process {p} {kb} kB");
        }
    }
    let settled = shared.secs();
    let findings = check::findings(&mut conn, &ledger, &smtp.received());
    let serve_log_errors = serve.lines().iter().filter(|l| l.contains("ERROR")).count();
    let machine = probe.finish(serve.pid());
    drop(serve);
    let _ = std::fs::remove_dir_all(&mail_dir);
    Report {
        seconds: plan.seconds,
        load_ended,
        drained,
        settled,
        kinds,
        findings,
        memory: check::memory(&samples, plan.warm_up),
        warm_up: plan.warm_up,
        memory_bound_pct: plan.memory_bound_pct,
        events,
        machine,
        serve_log_errors,
    }
}

/// Stops every client when the run ends, however it ends (a failed check panics).
struct StopOnDrop(Arc<load::Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.give_up_at_ms.store(1, Ordering::Relaxed);
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

/// VmRSS of a process, in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
