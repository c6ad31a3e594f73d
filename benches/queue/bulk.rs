//! Seeding at scale: a million tickets in a few large `INSERT … SELECT`s (see `bulk`).

use std::time::Instant;

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use madoguchi::db::{DbConn, DbError, write_tx};
use madoguchi::domain::vocabulary::{StaffId, TicketId};

use super::{COUNSELLORS, Seeded, counsellors};
use crate::common::SUBJECTS;

// ---------------------------------------------------------------------------------------------

/// Hours from a clock's start to its due time in the bulk data (the rules' own arithmetic
/// needs the calendar; a flat three days keeps the SQL plain and the spread the same).
const DUE_SECONDS: i64 = 72 * 3600;
/// The ticket-clock multiplier: clock `c` of ticket `i` is `(i-1)*5 + c + 1`, its inbound
/// message `(i-1)*10 + 2c + 1` and the answer `+ 1`, so every id is known without a lookup.
const MAX_CLOCKS: i64 = 5;

/// Large odd multipliers: each salt its own sequence, so statuses, assignees and flags are
/// not correlated with each other.
const MIX: [i64; 12] = [
    2_654_435_761,
    2_246_822_519,
    3_266_489_917,
    668_265_263,
    374_761_393,
    1_103_515_245,
    2_891_336_453,
    1_597_334_677,
    3_812_015_801,
    1_181_783_497,
    3_181_932_151,
    2_028_165_749,
];

/// A pseudo-random whole number 0..m of the integer SQL expression `col` (≤ a few million).
fn h(col: &str, salt: usize, m: i64) -> String {
    format!("((({col}) * {} % 4294967291) % {m})", MIX[salt])
}

struct Dialect {
    pg: bool,
}

impl Dialect {
    /// Rows `i` = 1..=n, with `select` over them.
    fn series(&self, n: usize, select: &str) -> String {
        if self.pg {
            format!("SELECT {select} FROM generate_series(CAST(1 AS BIGINT), {n}) AS s(i)")
        } else {
            format!(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
                 SELECT {select} FROM s"
            )
        }
    }

    fn least(&self, a: &str, b: &str) -> String {
        let f = if self.pg { "LEAST" } else { "MIN" };
        format!("{f}({a}, {b})")
    }

    /// The instant `secs` (an integer expression) seconds after `base`, in whole seconds as
    /// diesel writes them on SQLite (`YYYY-MM-DD HH:MM:SS`), so bound values compare equal.
    fn ts(&self, base: &str, secs: &str) -> String {
        if self.pg {
            format!("(TIMESTAMP '{base}' + ({secs}) * INTERVAL '1 second')")
        } else {
            format!("datetime('{base}', '+' || ({secs}) || ' seconds')")
        }
    }
}

/// The reference `reference_for(i)` gives, in SQL.
fn reference_sql(col: &str) -> String {
    let x = format!("(({col}) * {} & {})", 0x009E_3779_B97Fu64, (1u64 << 40) - 1);
    let symbol = |k: u32| {
        format!(
            "substr('23456789ABCDEFGHJKLMNPQRSTUVWXYZ', CAST((({x} >> {}) & 31) + 1 AS INTEGER), 1)",
            5 * (7 - k)
        )
    };
    let parts: Vec<String> = (0..8).map(symbol).collect();
    format!(
        "{} || '-' || {}",
        parts[..4].join(" || "),
        parts[4..].join(" || ")
    )
}

fn pick(expr: &str, items: &[&str]) -> String {
    let arms: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(k, v)| format!("WHEN {k} THEN '{v}'"))
        .collect();
    format!("CASE {expr} {} END", arms.join(" "))
}

/// Case codes, a subset of `config/statistics.toml` per field.
const CASE_CODES: [(&str, &[&str]); 8] = [
    (
        "writer",
        &[
            "self",
            "mother",
            "father",
            "sibling",
            "spouse",
            "supporter",
            "other",
        ],
    ),
    ("person_sex", &["male", "female", "other", "not_known"]),
    (
        "person_age_band",
        &[
            "teens_or_under",
            "twenties",
            "thirties",
            "forties",
            "fifties",
            "sixties_or_over",
        ],
    ),
    (
        "ward",
        &[
            "chuo",
            "kita",
            "higashi",
            "shiroishi",
            "atsubetsu",
            "toyohira",
            "kiyota",
            "minami",
            "nishi",
            "teine",
            "outside_city",
        ],
    ),
    (
        "withdrawal_years",
        &[
            "under_6_months",
            "6_months_to_1_year",
            "1_to_3_years",
            "3_to_5_years",
            "5_to_10_years",
            "10_to_20_years",
            "20_years_or_more",
        ],
    ),
    (
        "purposes",
        &[
            "how_to_relate",
            "daily_life",
            "health",
            "place_to_be",
            "work_study",
            "family",
            "money",
            "information",
        ],
    ),
    (
        "prior_agencies",
        &[
            "none",
            "medical",
            "public_health",
            "ward_office",
            "school",
            "employment",
            "private_groups",
        ],
    ),
    (
        "referred_to",
        &[
            "none",
            "medical",
            "public_health",
            "ward_office",
            "employment",
        ],
    ),
];

/// The statements that make `count` tickets (ids 1..=count) over the three fiscal years that
/// end with the current one, with consulters, about three reply clocks each, a consulter
/// message that starts each clock and the answer that stops it, and case values. `staff0`
/// is the first of the 20 consecutive counsellor ids.
fn bulk_sql(
    pg: bool,
    count: usize,
    now: DateTime<Utc>,
    staff0: i64,
) -> Vec<(&'static str, String)> {
    let d = Dialect { pg };
    let tz = chrono_tz::Asia::Tokyo;
    let fy = madoguchi::domain::statistics::FiscalYear::of(now, tz);
    let start = madoguchi::domain::statistics::FiscalYear::new(fy - 2, tz)
        .expect("a fiscal year")
        .from;
    let base = start.format("%Y-%m-%d %H:%M:%S").to_string();
    let span = (now - start).num_seconds();
    let step = (span / count.max(1) as i64).max(1);
    let ts = |secs: &str| d.ts(&base, secs);

    // Per ticket: arrival, gap between clocks, clocks so far, the last answer's delay.
    let reply = |id: &str, salt: usize| {
        // 85 % answered within a day, the rest within five.
        format!(
            "(600 + CASE WHEN {} < 85 THEN {} ELSE {} END)",
            h(id, salt, 100),
            h(id, salt + 1, 86_400),
            h(id, salt + 1, 432_000)
        )
    };
    let n_clocks = d.least(
        &format!("1 + {}", h("i", 2, MAX_CLOCKS)),
        &format!("1 + ({span} - off) / gap"),
    );
    let inner = d.series(
        count,
        &format!(
            "i, (i - 1) * {step} + {} AS off, 86400 + {} AS gap",
            h("i", 0, step),
            h("i", 1, 259_200)
        ),
    );
    let with_n = format!("SELECT i, off, gap, {n_clocks} AS n FROM ({inner}) AS a");
    let with_last = format!(
        "SELECT i, off, gap, n, off + (n - 1) * gap AS last_start, {} AS r_last, \
         {} AS neglect FROM ({with_n}) AS b",
        reply(&format!("i * {MAX_CLOCKS} + n - 1"), 3),
        h("i", 5, 100)
    );
    // Running: the last answer would come after now, or (2 % of the last 90 days) nobody
    // answered at all: those make the overdue list.
    let running = format!(
        "CASE WHEN last_start + r_last > {span} OR (neglect < 2 AND {span} - off < 7776000) \
         THEN 1 ELSE 0 END"
    );
    let plan = format!(
        "CREATE TEMP TABLE bulk_plan AS SELECT i, off, gap, n, last_start, r_last, running, \
         CASE WHEN running = 1 THEN (CASE WHEN n = 1 THEN 'new' ELSE 'open' END) \
              WHEN {span} - off > 2592000 OR {} < 6 THEN 'closed' ELSE 'waiting' END AS status, \
         CASE WHEN {} < 7 THEN {staff0} + {} END AS assignee \
         FROM (SELECT c.*, {running} AS running FROM ({with_last}) AS c) AS p",
        h("i", 6, 10),
        h("i", 7, 10),
        h("i", 8, 20)
    );

    // One ticket in ten is a consulter writing again, on a ticket ten to 50,000 back.
    let returning = "i % 10 = 7 AND i >= 17".to_string();
    let back = format!(
        "i - 10 * (1 + {}) - 1",
        h("i", 9, 1).replace("% 1)", &format!("% {})", d.least("5000", "(i - 7) / 10")))
    );
    let consulter = format!("CASE WHEN {returning} THEN {back} ELSE i END");
    let names = pick(
        &h("i", 10, 6),
        &[
            "佐藤 花子",
            "鈴木 太郎",
            "高橋 美咲",
            "田中 健一",
            "伊藤 由美",
            "渡辺 誠",
        ],
    );
    let consulters = format!(
        "INSERT INTO consulters (id, email, name, created_at) \
         SELECT i, 'consulter' || i || '@example.jp', {names}, {} FROM bulk_plan \
         WHERE NOT ({returning})",
        ts("off")
    );
    let subject = pick(&format!("i % {}", SUBJECTS.len()), SUBJECTS);
    let updated = "CASE WHEN running = 1 THEN last_start ELSE last_start + r_last END";
    let tickets = format!(
        "INSERT INTO tickets (id, reference, subject, status, channel, urgent, consulter_id, \
         assignee_id, relationship, age_group, area, created_at, updated_at, clock_started_at, \
         reply_due_at, queue_due_at, consulter_name, closed_at, legal_hold) \
         SELECT i, {reference}, {subject}, status, CASE WHEN i % 3 = 0 THEN 'email' ELSE 'web_form' END, \
         {urgent}, {consulter}, assignee, 'family', '20代', '白石区', {created}, {upd}, \
         CASE WHEN running = 1 THEN {started} END, CASE WHEN running = 1 THEN {due} END, \
         CASE WHEN running = 1 THEN {due} ELSE {far} END, {names}, \
         CASE WHEN status = 'closed' THEN {upd} END, {no} FROM bulk_plan",
        reference = reference_sql("i"),
        urgent = h("i", 11, 100) + " < 5",
        created = ts("off"),
        upd = ts(updated),
        started = ts("last_start"),
        due = ts(&format!("last_start + {DUE_SECONDS}")),
        far = if pg {
            "TIMESTAMP '9999-12-31 00:00:00'"
        } else {
            "'9999-12-31 00:00:00'"
        },
        no = if pg { "FALSE" } else { "0" },
    );
    // Every clock, with what the messages and the clock rows need.
    let clock_index = "(SELECT 0 AS c UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4)";
    let clocks_tmp = format!(
        "CREATE TEMP TABLE bulk_clocks AS SELECT p.i AS i, k.c AS c, p.off + k.c * p.gap AS st, \
         CASE WHEN k.c = p.n - 1 THEN p.r_last ELSE {} END AS r, \
         CASE WHEN k.c = p.n - 1 AND p.running = 1 THEN 0 ELSE 1 END AS stopped, \
         COALESCE(p.assignee, {staff0}) AS by_staff \
         FROM bulk_plan p JOIN {clock_index} AS k ON k.c < p.n",
        d.least(
            &reply(&format!("p.i * {MAX_CLOCKS} + k.c"), 3),
            "p.gap - 60"
        )
    );
    let no = if pg { "FALSE" } else { "0" };
    let inbound = format!(
        "INSERT INTO messages (id, ticket_id, kind, subject, body_text, from_address, automatic, created_at) \
         SELECT (i - 1) * 10 + 2 * c + 1, i, 'inbound', '相談', \
         'はじめてご連絡いたします。息子が高校を中退してから、もう五年ほど自分の部屋からほとんど出てきません。', \
         NULL, {no}, {} FROM bulk_clocks ORDER BY i, c",
        ts("st")
    );
    let outbound = format!(
        "INSERT INTO messages (id, ticket_id, kind, author_id, subject, body_text, automatic, created_at) \
         SELECT (i - 1) * 10 + 2 * c + 2, i, 'outbound', by_staff, '相談', \
         'ご連絡ありがとうございます。相談員の方からお返事いたします。', {no}, {} \
         FROM bulk_clocks WHERE stopped = 1 ORDER BY i, c",
        ts("st + r")
    );
    let clocks = format!(
        "INSERT INTO reply_clocks (id, ticket_id, started_at, due_at, started_by_message_id, \
         stopped_at, stopped_by_staff_id, stopped_by_message_id) \
         SELECT (i - 1) * {MAX_CLOCKS} + c + 1, i, {}, {}, (i - 1) * 10 + 2 * c + 1, \
         CASE WHEN stopped = 1 THEN {} END, CASE WHEN stopped = 1 THEN by_staff END, \
         CASE WHEN stopped = 1 THEN (i - 1) * 10 + 2 * c + 2 END FROM bulk_clocks ORDER BY i, c",
        ts("st"),
        ts(&format!("st + {DUE_SECONDS}")),
        ts("st + r")
    );
    let mut out = vec![
        ("plan", plan),
        ("consulters", consulters),
        ("tickets", tickets),
        ("clock plan", clocks_tmp),
        ("inbound messages", inbound),
        ("answers", outbound),
        ("reply clocks", clocks),
    ];
    // Case values on 70 % of tickets; the multiple fields get one or two codes.
    let mut cases = Vec::new();
    for (f, (field, codes)) in CASE_CODES.iter().enumerate() {
        let n = codes.len() as i64;
        let first = h("i", f % 12, n);
        cases.push(format!(
            "SELECT i, '{field}', {} FROM bulk_plan WHERE {} < 7",
            pick(&first, codes),
            h("i", (f + 3) % 12, 10)
        ));
        if f >= 5 {
            cases.push(format!(
                "SELECT i, '{field}', {} FROM bulk_plan WHERE {} < 7 AND {} < 4",
                pick(&format!("(({first}) + 1) % {n}"), codes),
                h("i", (f + 3) % 12, 10),
                h("i", (f + 6) % 12, 10)
            ));
        }
    }
    out.push((
        "case values",
        format!(
            "INSERT INTO ticket_case_values (ticket_id, field, code) {}",
            cases.join(" UNION ALL ")
        ),
    ));
    out.push((
        "drop plans",
        "DROP TABLE bulk_plan; DROP TABLE bulk_clocks".into(),
    ));
    if pg {
        let seqs: Vec<String> = ["consulters", "tickets", "messages", "reply_clocks"]
            .iter()
            .map(|t| {
                format!(
                    "SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))"
                )
            })
            .collect();
        out.push(("sequences", seqs.join("; ")));
    }
    out
}

/// `count` tickets in a few large `INSERT … SELECT`s (minutes for a million, where the
/// application's own calls take an hour); 20 counsellors made as `seed` makes them. A kept
/// database that already holds `count` tickets is used as it is.
pub fn bulk(conn: &mut DbConn, count: usize, now: DateTime<Utc>) -> Seeded {
    use diesel::prelude::*;
    let start = Instant::now();
    let existing: i64 = madoguchi::db::schema::tickets::table
        .count()
        .get_result(conn)
        .expect("count tickets");
    let staff: Vec<StaffId> = if existing == count as i64 {
        eprintln!("reusing the {count} tickets already in the database");
        madoguchi::db::schema::staff::table
            .filter(madoguchi::db::schema::staff::role.eq("counsellor"))
            .order(madoguchi::db::schema::staff::id)
            .select(madoguchi::db::schema::staff::id)
            .limit(COUNSELLORS as i64)
            .load(conn)
            .expect("the counsellors")
    } else {
        assert_eq!(
            existing, 0,
            "a database with other tickets in it: remove it first"
        );
        let staff = counsellors(conn, now);
        assert!(
            staff.windows(2).all(|w| w[1].0 == w[0].0 + 1),
            "counsellor ids are consecutive"
        );
        let pg = matches!(conn, DbConn::Postgres(_));
        if let DbConn::Sqlite(c) = conn {
            // Index building wants cache; the pages are written once anyway.
            c.batch_execute("PRAGMA cache_size = -262144")
                .expect("cache size");
        }
        for (what, sql) in bulk_sql(pg, count, now, staff[0].0) {
            let t = Instant::now();
            write_tx(conn, |c| Ok::<_, DbError>(c.batch_execute(&sql)?))
                .unwrap_or_else(|e| panic!("bulk seeding, {what}: {e}\n{sql}"));
            eprintln!("  seeded {what} in {:.1} s", t.elapsed().as_secs_f64());
        }
        match conn {
            DbConn::Postgres(pg) => pg.batch_execute("VACUUM ANALYZE").expect("analyze"),
            DbConn::Sqlite(c) => c
                .batch_execute("PRAGMA cache_size = -2000; PRAGMA wal_checkpoint(TRUNCATE)")
                .expect("checkpoint"),
        }
        staff
    };
    Seeded {
        staff,
        ticket_ids: (1..=count as i64).map(TicketId).collect(),
        secs: start.elapsed().as_secs_f64(),
    }
}
