//! Supervisors' reports at 1,000,000 tickets and about 3,000,000 reply clocks (the data of
//! `seed::bulk`, three fiscal years of a large centre): the overdue list now, a year of SLA
//! compliance by month, and the statistics of the last whole fiscal year, each through its
//! use-case in `desk` as the API and the console call it (reads, arithmetic, the audit row).
//!
//! Targets: overdue ≤ 100 ms, a year of SLA by month ≤ 500 ms, the fiscal-year statistics
//! ≤ 1 s (p99 of the timed runs, which at these sizes is their maximum).
//!
//! Run: `cargo bench --bench reports`. Knobs: `BENCH_TICKETS` (1000000), `BENCH_RUNS`
//! (timed runs of the overdue list, 20; the others take a quarter of that, at least 3),
//! `BENCH_BACKENDS` (`sqlite-full,postgres`), `BENCH_SCALE_DIR` (keep and reuse the seeded
//! database, shared with the queue bench), `BENCH_TINY=1` (2,000 tickets, 2 runs).

#[path = "common/mod.rs"]
mod common;
#[path = "queue/seed.rs"]
mod seed;

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use common::{Backend, BenchDb, Latencies, LoadProbe, Table};
use madoguchi::config::SqliteSynchronous;
use madoguchi::desk::{self, Actor};
use madoguchi::domain::sla::GroupBy;
use madoguchi::domain::statistics::FiscalYear;
use madoguchi::domain::vocabulary::Role;
use madoguchi::startup::build_state;
use madoguchi::timesource::SystemTime;

/// CPU time of the whole process in ms, every thread's (a report reads on several at once),
/// the ones that have ended included.
fn cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) } == 0;
    if ok {
        t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
    } else {
        0.0
    }
}

/// Wall-clock latencies of `runs` calls after one warm-up, the median CPU ms per call, and
/// the last result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Latencies, f64, T) {
    let mut last = f();
    let mut cpu = Vec::with_capacity(runs);
    let samples = (0..runs)
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_ms());
            last = f();
            cpu.push(cpu_ms() - c);
            t.elapsed()
        })
        .collect();
    cpu.sort_by(f64::total_cmp);
    (Latencies::new(samples), cpu[cpu.len() / 2], last)
}

fn bench(backend: Backend, count: usize, runs: usize) {
    let Some(db) = BenchDb::kept(backend, &format!("tickets_{count}")) else {
        return;
    };
    println!("\n--- {} ---", backend.label());
    let state = build_state(db.settings(), Arc::new(SystemTime)).expect("state builds");
    let mut conn = state.pool.get().expect("a database connection");
    let now = Utc::now();
    let probe = LoadProbe::start();
    let seeded = seed::bulk(&mut conn, count, now);
    println!(
        "seeded {count} tickets in {:.1} s{}; {}",
        seeded.secs,
        db.sqlite_mib()
            .map_or(String::new(), |m| format!(", database {m:.0} MiB")),
        probe.finish()
    );
    let supervisor = desk::staff::create(
        &mut conn,
        &format!("supervisor-{}@example.org", common::random_hex()),
        "監督者",
        "supervisor",
        "a long bench password",
        now,
    )
    .expect("a supervisor");
    let actor = Actor {
        staff_id: supervisor,
        name: "監督者".into(),
        role: Role::Supervisor,
        client_addr: "127.0.0.1".into(),
    };

    // Each report's own load figure: the lead reruns on a quiet machine and compares.
    let probe = LoadProbe::start();
    let few = (runs / 4).max(3).min(runs);
    let (overdue, overdue_cpu, lines) = time(runs, || {
        desk::reports::overdue(&state, &mut conn, &actor, Utc::now()).expect("overdue")
    });
    let overdue_load = probe.finish();
    let probe = LoadProbe::start();
    let year_ago = now - Duration::days(365);
    let (sla, sla_cpu, months) = time(few, || {
        desk::reports::sla(&state, &mut conn, &actor, year_ago, now, GroupBy::Month).expect("sla")
    });
    let sla_load = probe.finish();
    let probe = LoadProbe::start();
    let last_year = FiscalYear::of(now, state.rules.tz) - 1;
    let (stats, stats_cpu, report) = time(few, || {
        desk::case::report(&state, &mut conn, &actor, last_year, None).expect("statistics")
    });
    let stats_load = probe.finish();
    let clocks: usize = months.iter().map(|m| m.due).sum();

    let mut table = Table::new(&[
        "report", "size", "runs", "p50 ms", "p99 ms", "target", "met",
    ]);
    let label = backend.label();
    for (name, size, lat, target_ms, (load, cpu)) in [
        (
            "overdue now",
            format!("{} lines", lines.len()),
            &overdue,
            100.0,
            (&overdue_load, overdue_cpu),
        ),
        (
            "SLA by month, 365 days",
            format!("{clocks} clocks, {} months", months.len()),
            &sla,
            500.0,
            (&sla_load, sla_cpu),
        ),
        (
            "statistics, last fiscal year",
            format!(
                "{last_year}: {} people, {} contacts",
                report.summary_value("people"),
                report.summary_value("contacts")
            ),
            &stats,
            1000.0,
            (&stats_load, stats_cpu),
        ),
    ] {
        let met = lat.pct(99.0) <= target_ms;
        table.row(vec![
            name.into(),
            size.clone(),
            lat.len().to_string(),
            common::ms(lat.pct(50.0)),
            common::ms(lat.pct(99.0)),
            format!("≤ {target_ms} ms"),
            if met { "yes" } else { "NO" }.into(),
        ]);
        common::result(
            &format!("report: {name} ({size}), {count} tickets, {label}"),
            &format!("p99 ≤ {target_ms} ms"),
            &format!(
                "p50 {} ms, p99 {} ms over {} runs (CPU {cpu:.0} ms a run, median); {load}, \
                 loadavg {}",
                common::ms(lat.pct(50.0)),
                common::ms(lat.pct(99.0)),
                lat.len(),
                common::loadavg()
            ),
            met,
        );
    }
    table.print();
}

fn main() {
    common::init_logging();
    common::print_machine_header("supervisors' reports (desk::reports, desk::case::report)");
    let count = common::env_size("BENCH_TICKETS", 1_000_000, 2_000);
    let runs = common::env_size("BENCH_RUNS", 20, 2);
    let backends = match std::env::var("BENCH_BACKENDS") {
        Ok(_) => common::backends_from_env(),
        Err(_) => vec![Backend::Sqlite(SqliteSynchronous::Full), Backend::Postgres],
    };
    for backend in backends {
        bench(backend, count, runs);
    }
    println!("\nloadavg at end: {}", common::loadavg());
}
