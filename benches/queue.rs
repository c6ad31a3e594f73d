//! The counsellors' queue at 1,000,000 tickets: `db::queue::page` for the filters the queue
//! page offers, first page, second page and a deep page reached by cursor, and the ticket view
//! (`queue::ticket` + `queue::thread`, and the two further reads the handler makes).
//!
//! The tickets are made by `seed::bulk` (`queue/seed.rs`) in a few `INSERT … SELECT`s:
//! arrivals spread over three fiscal years, ids growing with arrival, about three reply clocks
//! per ticket (each started by a consulter message, most stopped by an answer), 5 % urgent,
//! 70 % assigned over 20 counsellors; old tickets closed, the last month's new, open, waiting
//! or closed, a few thousand running clocks overdue.
//!
//! Target: a queue page in ≤ 10 ms (p99) at 1,000,000 tickets, both backends.
//!
//! Query plans are printed from the SQL diesel actually sent (captured by instrumentation) with
//! its values bound: `EXPLAIN QUERY PLAN` for every query on SQLite, `EXPLAIN (ANALYZE,
//! BUFFERS)` on PostgreSQL for queries over the target (every query with `BENCH_PLANS=all`).
//!
//! Run: `cargo bench --bench queue`. Knobs: `BENCH_TICKETS` (default 1000000), `BENCH_RUNS`
//! (timed runs per query, default 200), `BENCH_BACKENDS` (default `sqlite-full,postgres`),
//! `BENCH_PLANS` (`slow`, the default, or `all`), `BENCH_SCALE_DIR` (keep the seeded
//! database there and reuse it: see `BenchDb::kept`), `BENCH_TINY=1` (2,000 tickets, 5 runs).

#[path = "common/mod.rs"]
mod common;
#[path = "queue/seed.rs"]
mod seed;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Backend, BenchDb, Latencies, LoadProbe, Rng, Table};
use diesel::connection::{Connection, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use madoguchi::config::SqliteSynchronous;
use madoguchi::db::queue::{self, AssigneeFilter, Cursor, QueueQuery, SlaFilter, StatusFilter};
use madoguchi::db::{DbConn, outbox};
use madoguchi::domain::vocabulary::{MessageId, StaffId, TicketId};
use madoguchi::startup::build_state;
use madoguchi::state::AppState;
use madoguchi::timesource::SystemTime;

const TARGET_MS: f64 = 10.0;
/// The queue page's default size (`GET /api/v1/tickets` without `limit`).
const PAGE: i64 = 50;

// ---------------------------------------------------------------------------------------------
// Queries and plans
// ---------------------------------------------------------------------------------------------

struct Filter {
    name: String,
    status: StatusFilter,
    assignee: AssigneeFilter,
    sla: Option<SlaFilter>,
}

fn filters(staff: &[StaffId]) -> Vec<Filter> {
    let someone = staff[3];
    vec![
        Filter {
            name: "none".into(),
            status: StatusFilter::Any,
            assignee: AssigneeFilter::Any,
            sla: None,
        },
        Filter {
            name: "status=open".into(),
            status: StatusFilter::Open,
            assignee: AssigneeFilter::Any,
            sla: None,
        },
        Filter {
            name: format!("assignee={someone}"),
            status: StatusFilter::Any,
            assignee: AssigneeFilter::Staff(someone),
            sla: None,
        },
        Filter {
            name: "sla=overdue".into(),
            status: StatusFilter::Any,
            assignee: AssigneeFilter::Any,
            sla: Some(SlaFilter::Overdue),
        },
        // A counsellor's own open work, the page they look at most.
        Filter {
            name: format!("status=open&assignee={someone}"),
            status: StatusFilter::Open,
            assignee: AssigneeFilter::Staff(someone),
            sla: None,
        },
    ]
}

fn query(state: &AppState, f: &Filter, limit: i64, after: Option<Cursor>) -> QueueQuery {
    QueueQuery {
        status: f.status,
        assignee: f.assignee,
        sla: f.sla,
        now: Utc::now(),
        due_soon: state.rules.due_soon,
        limit,
        after,
    }
}

/// Walks the whole filtered queue in pages of 200 (the largest the API gives) and returns the
/// number of rows and the cursors for the second page and for the page that starts half-way.
fn walk(
    state: &AppState,
    conn: &mut DbConn,
    f: &Filter,
) -> (usize, Option<Cursor>, Option<Cursor>, Duration) {
    let start = Instant::now();
    // The cursor after every row, so that any page can be asked for again.
    let mut cursors: Vec<Cursor> = Vec::new();
    let mut after = None;
    loop {
        let rows = queue::page(conn, &query(state, f, 200, after)).expect("a page");
        let more = rows.len() > 200;
        cursors.extend(rows.iter().take(200).map(Cursor::after));
        after = cursors.last().copied();
        if !more {
            break;
        }
    }
    let total = cursors.len();
    let second = (total > PAGE as usize).then(|| cursors[PAGE as usize - 1]);
    let middle = (total >= 4 * PAGE as usize).then(|| cursors[total / 2 - 1]);
    (total, second, middle, start.elapsed())
}

#[derive(QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Integer)]
    parent: i32,
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// The SQL (and binds) of the last query on a connection that has capture switched on.
type Captured = Arc<Mutex<Option<String>>>;

fn capture(conn: &mut DbConn) -> Captured {
    let last: Captured = Arc::new(Mutex::new(None));
    let sink = last.clone();
    let record = move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event
            && let Ok(mut slot) = sink.lock()
        {
            *slot = Some(query.to_string());
        }
    };
    match conn {
        DbConn::Sqlite(c) => c.set_instrumentation(record),
        DbConn::Postgres(c) => c.set_instrumentation(record),
    }
    last
}

/// A bind value as diesel's debug output shows it: quoted (text) or bare (a number, a bool,
/// a timestamp).
struct Bind {
    text: String,
    quoted: bool,
}

impl Bind {
    /// As an SQL literal of unknown type, for PostgreSQL's `EXECUTE` (it takes the parameter
    /// types from the prepared statement).
    fn literal(&self) -> String {
        format!("'{}'", self.text.replace('\'', "''"))
    }
}

/// A newtype's debug form (`StaffId(4)`) as the value it binds (`4`), and a word's
/// (`Closed`, `WebForm`) as its stored text (`closed`, `web_form`).
fn unwrap_newtype(text: String) -> String {
    let first_upper = text.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    if first_upper && text.chars().all(|c| c.is_ascii_alphabetic()) {
        let mut out = String::new();
        for (i, c) in text.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        return out;
    }
    match text.split_once('(') {
        Some((name, rest))
            if rest.ends_with(')') && name.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            rest[..rest.len() - 1].to_string()
        }
        _ => text,
    }
}

/// Splits diesel's `SQL -- binds: [a, b]`.
fn split_debug(text: &str) -> (String, Vec<Bind>) {
    let (sql, binds) = text.split_once(" -- binds: ").unwrap_or((text, "[]"));
    let inner = binds.trim().trim_start_matches('[').trim_end_matches(']');
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut was_quoted) = (false, false);
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    current.push(n);
                }
            }
            ',' if !quoted => {
                out.push(Bind {
                    text: unwrap_newtype(std::mem::take(&mut current).trim().to_string()),
                    quoted: std::mem::take(&mut was_quoted),
                });
                chars.next_if_eq(&' ');
            }
            c => current.push(c),
        }
    }
    if !inner.trim().is_empty() {
        out.push(Bind {
            text: unwrap_newtype(current.trim().to_string()),
            quoted: was_quoted,
        });
    }
    (sql.to_string(), out)
}

/// `EXPLAIN QUERY PLAN` with the values bound with their types, as the application binds
/// them: SQLite re-plans once values are bound when they matter (e.g. whether the partial
/// index `WHERE status <> 'closed'` applies), so an unbound plan could mislead.
fn sqlite_plan(c: &mut diesel::SqliteConnection, sql: &str, binds: &[Bind]) -> Vec<SqlitePlanRow> {
    use diesel::sql_types::{BigInt, Bool, Timestamp};
    let mut q = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
        .into_boxed::<diesel::sqlite::Sqlite>();
    for b in binds {
        let t = b.text.as_str();
        q = if b.quoted {
            q.bind::<Text, _>(t.to_string())
        } else if t == "true" || t == "false" {
            q.bind::<Bool, _>(t == "true")
        } else if let Ok(n) = t.parse::<i64>() {
            q.bind::<BigInt, _>(n)
        } else if let Ok(ts) = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f") {
            q.bind::<Timestamp, _>(ts)
        } else {
            q.bind::<Text, _>(t.to_string())
        };
    }
    q.load(c).expect("EXPLAIN QUERY PLAN")
}

/// The plan of the query last run on `conn`, indented.
fn plan(conn: &mut DbConn, captured: &Captured) -> Vec<String> {
    let Some(text) = captured.lock().ok().and_then(|mut s| s.take()) else {
        return vec!["(no query captured)".into()];
    };
    let (sql, binds) = split_debug(&text);
    let literals: Vec<String> = binds.iter().map(Bind::literal).collect();
    let mut out = vec![
        format!("SQL: {sql}"),
        format!("binds: {}", literals.join(", ")),
    ];
    match conn {
        DbConn::Sqlite(c) => {
            let mut depth: Vec<(i32, usize)> = Vec::new();
            for r in sqlite_plan(c, &sql, &binds) {
                let level = depth
                    .iter()
                    .find(|(id, _)| *id == r.parent)
                    .map_or(0, |(_, d)| d + 1);
                depth.push((r.id, level));
                out.push(format!("{}{}", "  ".repeat(level + 1), r.detail));
            }
        }
        DbConn::Postgres(c) => {
            c.batch_execute(&format!("PREPARE bench_plan AS {sql}"))
                .expect("PREPARE");
            let explain = format!(
                "EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_plan({})",
                literals.join(", ")
            );
            let rows: Vec<PgPlanRow> = diesel::sql_query(explain).load(c).expect("EXPLAIN");
            c.batch_execute("DEALLOCATE bench_plan")
                .expect("DEALLOCATE");
            out.extend(rows.into_iter().map(|r| format!("  {}", r.line)));
        }
    }
    out
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Latencies {
    // A few runs first so the page cache and statement caches are warm.
    for _ in 0..runs.min(10) {
        std::hint::black_box(f());
    }
    Latencies::new(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------

fn bench(backend: Backend, count: usize, runs: usize, all_plans: bool) {
    let Some(db) = BenchDb::kept(backend, &format!("tickets_{count}")) else {
        return;
    };
    println!("\n--- {} ---", backend.label());
    let state = build_state(db.settings(), Arc::new(SystemTime)).expect("state builds");
    let mut conn = state.pool.get().expect("a database connection");
    let mut explain_conn = state.pool.get().expect("a second connection");
    let captured = capture(&mut explain_conn);

    let now = Utc::now();
    let probe = LoadProbe::start();
    let seeded = seed::bulk(&mut conn, count, now);
    println!(
        "seeded {count} tickets in {:.1} s ({:.0} tickets/s){}; {}",
        seeded.secs,
        count as f64 / seeded.secs,
        db.sqlite_mib()
            .map_or(String::new(), |m| format!(", database {m:.0} MiB")),
        probe.finish()
    );

    let probe = LoadProbe::start();
    let mut table = Table::new(&[
        "filter", "rows", "page", "p50 ms", "p99 ms", "max ms", "≤10ms?",
    ]);
    let mut plans: Vec<(String, Vec<String>)> = Vec::new();
    // The slowest page, for the closing table.
    let mut worst = (0.0f64, String::new());
    for f in filters(&seeded.staff) {
        let (total, second, middle, walked) = walk(&state, &mut conn, &f);
        let pages: Vec<(&str, Option<Cursor>)> = [
            ("first", None),
            ("second", second),
            ("deep (middle)", middle),
        ]
        .into_iter()
        .filter(|(name, c)| *name == "first" || c.is_some())
        .collect();
        for (name, after) in pages {
            let lat = time(runs, || {
                queue::page(&mut conn, &query(&state, &f, PAGE, after)).expect("a queue page")
            });
            let ok = lat.pct(99.0) <= TARGET_MS;
            if lat.pct(99.0) >= worst.0 {
                worst = (lat.pct(99.0), format!("{} {name}", f.name));
            }
            table.row(vec![
                f.name.clone(),
                total.to_string(),
                name.into(),
                common::ms(lat.pct(50.0)),
                common::ms(lat.pct(99.0)),
                common::ms(lat.max()),
                if ok { "yes" } else { "NO" }.into(),
            ]);
            let is_sqlite = matches!(backend, Backend::Sqlite(_));
            if all_plans || !ok || is_sqlite {
                queue::page(&mut explain_conn, &query(&state, &f, PAGE, after))
                    .expect("the page again");
                let label = format!(
                    "{} / {name} page (p99 {} ms)",
                    f.name,
                    common::ms(lat.pct(99.0))
                );
                plans.push((label, plan(&mut explain_conn, &captured)));
            }
        }
        println!(
            "  walked all {total} rows of {} in pages of 200: {:.2} s",
            f.name,
            walked.as_secs_f64()
        );
    }

    // The ticket view: a spread of tickets, old and new.
    let mut rng = Rng::new(5);
    let ids: Vec<TicketId> = (0..runs)
        .map(|_| seeded.ticket_ids[rng.below(seeded.ticket_ids.len() as u64) as usize])
        .collect();
    let mut k = 0;
    let view = time(runs, || {
        k = (k + 1) % ids.len();
        let head = queue::ticket(&mut conn, ids[k]).expect("ticket");
        let thread = queue::thread(&mut conn, ids[k]).expect("thread");
        (head, thread)
    });
    let mut k = 0;
    let full_view = time(runs, || {
        k = (k + 1) % ids.len();
        let head = queue::ticket(&mut conn, ids[k]).expect("ticket");
        let thread = queue::thread(&mut conn, ids[k]).expect("thread");
        let message_ids: Vec<MessageId> = thread.iter().map(|m| m.id).collect();
        let deliveries = outbox::delivery_for_messages(&mut conn, &message_ids).expect("mail");
        let attachments = queue::attachments_of(&mut conn, &message_ids).expect("attachments");
        (head, thread, deliveries, attachments)
    });
    common::result(
        &format!(
            "queue page, every filter and deep page, {count} tickets, {}",
            backend.label()
        ),
        "p99 ≤ 10 ms",
        &format!("p99 {} ms (slowest: {})", common::ms(worst.0), worst.1),
        worst.0 <= TARGET_MS,
    );
    for (name, lat) in [
        ("ticket view: ticket + thread", view),
        ("ticket view: + deliveries + attachments", full_view),
    ] {
        let ok = lat.pct(99.0) <= TARGET_MS;
        table.row(vec![
            name.into(),
            "-".into(),
            "-".into(),
            common::ms(lat.pct(50.0)),
            common::ms(lat.pct(99.0)),
            common::ms(lat.max()),
            if ok { "yes" } else { "NO" }.into(),
        ]);
    }
    println!(
        "\n{runs} timed runs per line, page size {PAGE}; {}",
        probe.finish()
    );
    table.print();

    if !plans.is_empty() {
        println!("\nquery plans ({}):", backend.label());
        for (label, lines) in plans {
            println!("\n* {label}");
            for l in lines {
                println!("  {l}");
            }
        }
    }
    drop(conn);
    drop(explain_conn);
    drop(state);
    drop(db);
}

fn main() {
    common::init_logging();
    common::print_machine_header("the counsellors' queue (db::queue::page) and the ticket view");
    let count = common::env_size("BENCH_TICKETS", 1_000_000, 2_000);
    let runs = common::env_size("BENCH_RUNS", 200, 5);
    let all_plans = std::env::var("BENCH_PLANS").is_ok_and(|v| v == "all");
    let backends = match std::env::var("BENCH_BACKENDS") {
        Ok(_) => common::backends_from_env(),
        Err(_) => vec![Backend::Sqlite(SqliteSynchronous::Full), Backend::Postgres],
    };
    for backend in backends {
        bench(backend, count, runs, all_plans);
    }
    println!("\nloadavg at end: {}", common::loadavg());
}
