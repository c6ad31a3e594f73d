//! `POST /api/v1/consultations` under load: the real application (HTTP server, pool, mail
//! delivery worker writing `.eml` files) started in process on a free port, loaded by several
//! client threads over keep-alive connections with a fixed number of requests and a time
//! bound. Each request is a distinct consulter with about 1 KB of Japanese text, so each one
//! opens a ticket, starts a reply clock and queues an acknowledgement, which the delivery
//! worker sends meanwhile (as in service).
//!
//! Target (issue 16): ≥ 3,000 consultations/s with p99 ≤ 50 ms on SQLite under 16 keep-alive
//! connections, RSS ≤ 256 MB under that load and ≤ 64 MB idle (django-helpdesk: ~60 tickets/s).
//!
//! Client and server share the machine's cores, so the figures include the load generator's
//! own CPU use (shown as "bench" in the load column). Memory is this process's VmRSS: idle
//! (after the warm-up, before the load) and the peak sampled under load; it includes the
//! request bodies made beforehand (said in the header) and the client threads.
//!
//! Run: `cargo bench --bench consultations`. Knobs: `BENCH_REQUESTS` (default 20000),
//! `BENCH_CLIENTS` (default 16), `BENCH_SECONDS` (time bound, default 120), `BENCH_BACKENDS`
//! (default `sqlite-full,sqlite-normal,postgres`), `BENCH_SERVER_WORKERS` (default 0 = one per
//! core, as configured by default), `BENCH_POOL_SIZE` (what-if: `database.pool_size`, default
//! the configured 8).

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Backend, BenchDb, Latencies, LoadProbe, Rng, Table};
use diesel::prelude::*;
use madoguchi::Application;
use madoguchi::db::schema::{outbound_mail, tickets};

/// Every request body, made before the clock starts so the clients spend no time on it.
fn bodies(count: usize, run: &str) -> Vec<String> {
    let mut rng = Rng::new(7);
    let relationships = ["self", "family", "other"];
    let ages = [
        "10代",
        "20代",
        "30代",
        "40代",
        "50代",
        "60代以上",
        "わからない",
    ];
    let areas = [
        "中央区",
        "北区",
        "東区",
        "白石区",
        "豊平区",
        "南区",
        "西区",
        "厚別区",
    ];
    (0..count)
        .map(|i| {
            serde_json::json!({
                "name": common::japanese_name(&mut rng),
                "email": format!("consulter.{run}.{i}@example.jp"),
                "relationship": rng.pick(&relationships),
                "age_group": rng.pick(&ages),
                "area": rng.pick(&areas),
                "subject": common::japanese_subject(&mut rng),
                "body": common::japanese_body(&mut rng, 1000, i),
                "consent": true,
            })
            .to_string()
        })
        .collect()
}

struct Outcome {
    backend: Backend,
    clients: usize,
    statuses: BTreeMap<String, usize>,
    created: usize,
    elapsed: Duration,
    latencies: Latencies,
    tickets: i64,
    acks_sent: i64,
    acks_queued: i64,
    load: String,
    rss_idle_kib: u64,
    rss_peak_kib: u64,
    /// Group commits during the load, and the items in them.
    groups: (u64, u64),
}

/// This process's resident memory, from /proc/self/status.
fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Samples VmRSS every 10 ms until stopped; the highest seen.
struct RssPeak {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl RssPeak {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(vm_rss_kib()));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(vm_rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Self { stop, peak, thread }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak.load(Ordering::Relaxed).max(vm_rss_kib())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// One request; the body is read whole so the connection goes back to the agent's pool.
fn post(agent: &ureq::Agent, url: &str, body: &str) -> String {
    match agent
        .post(url)
        .header("content-type", "application/json")
        .send(body.as_bytes())
    {
        Ok(mut resp) => {
            let _ = resp.body_mut().read_to_string();
            resp.status().as_u16().to_string()
        }
        Err(e) => format!("error: {e}"),
    }
}

fn run(
    backend: Backend,
    requests: usize,
    clients: usize,
    bound: Duration,
    warm_up: &[String],
    bodies: &Arc<Vec<String>>,
) -> Option<Outcome> {
    let db = BenchDb::new(backend)?;
    let mut settings = db.settings();
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = common::env_usize("BENCH_SERVER_WORKERS", 0);
    settings.intake.rate_limit_per_hour = 0;
    if let Ok(size) = std::env::var("BENCH_POOL_SIZE") {
        // What-if: a pool of 1 makes every writer queue in the pool instead of in SQLite's
        // busy handler (which sleeps 1, 2, 5 … 100 ms between tries).
        settings.database.pool_size = size.trim().parse().expect("BENCH_POOL_SIZE: a number");
    }
    let app = Application::build(settings).expect("the application starts");
    let url = format!("http://127.0.0.1:{}/api/v1/consultations", app.port());
    let handle = app.handle();
    let state = app.state();
    let server =
        std::thread::spawn(move || actix_web::rt::System::new().block_on(app.run_until_stopped()));

    // Warm-up: connections, the pool, SQLite's page cache, PostgreSQL's plans.
    let warm = agent();
    for body in warm_up {
        let status = post(&warm, &url, body);
        assert_eq!(status, "201", "warm-up request failed");
    }

    let next = Arc::new(AtomicUsize::new(0));
    let rss_idle_kib = vm_rss_kib();
    let rss = RssPeak::start();
    let groups_before = state.commits.counts();
    let probe = LoadProbe::start();
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (next, bodies, url) = (next.clone(), bodies.clone(), url.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut samples = Vec::new();
                let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests || start.elapsed() > bound {
                        break;
                    }
                    let t = Instant::now();
                    let status = post(&agent, &url, &bodies[i]);
                    samples.push(t.elapsed());
                    *statuses.entry(status).or_insert(0) += 1;
                }
                (samples, statuses)
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(requests);
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for t in threads {
        let (s, st) = t.join().expect("a client thread");
        samples.extend(s);
        for (k, v) in st {
            *statuses.entry(k).or_insert(0) += v;
        }
    }
    let elapsed = start.elapsed();
    let load = probe.finish();
    let rss_peak_kib = rss.finish();
    let groups_after = state.commits.counts();
    let groups = (
        groups_after.0 - groups_before.0,
        groups_after.1 - groups_before.1,
    );

    // What the delivery worker got through while the load ran.
    let (tickets, acks_sent, acks_queued) = {
        let mut conn = state.pool.get().expect("a database connection");
        let count = |conn: &mut madoguchi::db::DbConn, status: &str| -> i64 {
            outbound_mail::table
                .filter(outbound_mail::status.eq(status))
                .count()
                .get_result(conn)
                .expect("count the outbox")
        };
        let tickets: i64 = tickets::table
            .count()
            .get_result(&mut *conn)
            .expect("count tickets");
        (
            tickets,
            count(&mut conn, "sent"),
            count(&mut conn, "queued"),
        )
    };
    drop(state);
    drop(handle.stop(true));
    server
        .join()
        .expect("the server thread")
        .expect("the server stopped cleanly");
    drop(db);

    Some(Outcome {
        backend,
        clients,
        created: statuses.get("201").copied().unwrap_or(0),
        statuses,
        elapsed,
        latencies: Latencies::new(samples),
        tickets,
        acks_sent,
        acks_queued,
        load,
        rss_idle_kib,
        rss_peak_kib,
        groups,
    })
}

fn main() {
    common::init_logging();
    common::print_machine_header(
        "POST /api/v1/consultations (in-process server, keep-alive clients)",
    );
    let requests = common::env_usize("BENCH_REQUESTS", 20_000);
    let clients = common::env_usize("BENCH_CLIENTS", 16);
    let bound = Duration::from_secs(common::env_usize("BENCH_SECONDS", 120) as u64);
    let run_id = common::random_hex();
    let bodies = Arc::new(bodies(requests, &run_id));
    let warm_up = self::bodies(200, &format!("{run_id}w"));
    println!(
        "{requests} requests (JSON bodies of {:.0} bytes on average), {clients} client threads, \
         time bound {} s, server workers {} (0 = one per core), pool size {}; bodies held in \
         memory {:.1} MB (in the RSS figures)",
        bodies.iter().map(String::len).sum::<usize>() as f64 / requests.max(1) as f64,
        bound.as_secs(),
        common::env_usize("BENCH_SERVER_WORKERS", 0),
        std::env::var("BENCH_POOL_SIZE").unwrap_or_else(|_| "as configured (8)".into()),
        bodies.iter().map(String::len).sum::<usize>() as f64 / 1e6,
    );

    let mut table = Table::new(&[
        "backend",
        "clients",
        "201",
        "other",
        "secs",
        "201/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "tickets",
        "acks sent/queued at end",
        "groups (items/group)",
        "RSS idle/peak MB",
        "load",
    ]);
    for backend in common::backends_from_env() {
        let Some(r) = run(backend, requests, clients, bound, &warm_up, &bodies) else {
            continue;
        };
        let other: Vec<String> = r
            .statuses
            .iter()
            .filter(|(k, _)| k.as_str() != "201")
            .map(|(k, v)| format!("{k}×{v}"))
            .collect();
        table.row(vec![
            r.backend.label(),
            r.clients.to_string(),
            r.created.to_string(),
            if other.is_empty() {
                "0".into()
            } else {
                other.join(" ")
            },
            format!("{:.2}", r.elapsed.as_secs_f64()),
            format!("{:.0}", r.created as f64 / r.elapsed.as_secs_f64()),
            common::ms(r.latencies.pct(50.0)),
            common::ms(r.latencies.pct(95.0)),
            common::ms(r.latencies.pct(99.0)),
            common::ms(r.latencies.max()),
            r.tickets.to_string(),
            format!("{}/{}", r.acks_sent, r.acks_queued),
            format!(
                "{} ({:.1})",
                r.groups.0,
                r.groups.1 as f64 / r.groups.0.max(1) as f64
            ),
            format!(
                "{:.0}/{:.0}",
                r.rss_idle_kib as f64 / 1024.0,
                r.rss_peak_kib as f64 / 1024.0
            ),
            r.load,
        ]);
        let rate = r.created as f64 / r.elapsed.as_secs_f64();
        let p99 = r.latencies.pct(99.0);
        common::result(
            &format!(
                "POST /api/v1/consultations, {} clients, {}",
                r.clients,
                r.backend.label()
            ),
            "≥ 3000/s, p99 ≤ 50 ms",
            &format!("{rate:.0}/s, p99 {} ms", common::ms(p99)),
            rate >= 3000.0 && p99 <= 50.0,
        );
    }
    table.print();
    println!("loadavg at end: {}", common::loadavg());
}
