//! The SLA report by month, counted in the database a month at a time (issue 16): months cut
//! at midnight in Tokyo, met at the due time to the microsecond, reply minutes cut as chrono
//! cuts them, and the same figures as the per-clock arithmetic the report by counsellor uses.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use madoguchi::db::schema::reply_clocks;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, TestApp, spawn_app_with};

both_backends!(months_turn_at_tokyo_midnight_and_match_the_per_clock_figures);

fn utc(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

/// A ticket whose one clock is set to exactly these instants (UTC), unassigned.
fn clock(app: &TestApp, n: usize, started: &str, due: &str, stopped: Option<&str>) {
    let ticket = app.new_ticket(&format!("sla{n}@example.jp"));
    let mut conn = app.conn();
    diesel::update(reply_clocks::table.filter(reply_clocks::ticket_id.eq(ticket)))
        .set((
            reply_clocks::started_at.eq(utc(started)),
            reply_clocks::due_at.eq(utc(due)),
            reply_clocks::stopped_at.eq(stopped.map(utc)),
        ))
        .execute(&mut *conn)
        .unwrap();
}

fn rows(app: &TestApp, token: &str, from: &str, to: &str, by: &str) -> Value {
    let q = |s: &str| s.replace('+', "%2B");
    let path = format!(
        "/api/v1/reports/sla?from={}&to={}&group_by={by}",
        q(from),
        q(to)
    );
    let r = app.call("GET", &path, Some(token), None);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()["rows"].clone()
}

fn months_turn_at_tokyo_midnight_and_match_the_per_clock_figures(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.intake.rate_limit_per_hour = 0);
    // The report is read at this instant; the clocks are set below, whenever filed.
    let now: DateTime<Utc> = "2027-01-05T00:00:00Z".parse().unwrap();
    app.time.set(now);
    let s = app.staff("s@center.example", "supervisor");
    // Due 23:30 UTC on Nov 30 = Dec 1 08:30 in Tokyo: December. Answered after 59 min
    // 59.4996 s: 59 minutes (rounding the fraction to milliseconds would make it 60).
    clock(
        &app,
        1,
        "2026-11-27 23:30:00.5",
        "2026-11-30 23:30:00",
        Some("2026-11-28 00:29:59.9996"),
    );
    // The last microsecond of November in Tokyo, answered at that very instant: met.
    clock(
        &app,
        2,
        "2026-11-30 04:59:59.999999",
        "2026-11-30 14:59:59.999999",
        Some("2026-11-30 14:59:59.999999"),
    );
    // Tokyo midnight, December 1st, answered a microsecond late: breached.
    clock(
        &app,
        3,
        "2026-11-30 13:00:00",
        "2026-11-30 15:00:00",
        Some("2026-11-30 15:00:00.000001"),
    );
    // January in Tokyo: one running past its due time (breached), one not yet due (open).
    clock(&app, 4, "2026-12-28 15:00:00", "2026-12-31 15:00:00", None);
    clock(&app, 5, "2027-01-07 00:00:00", "2027-01-10 00:00:00", None);

    let (from, to) = ("2026-11-01T00:00:00+09:00", "2027-02-01T00:00:00+09:00");
    let by_month = rows(&app, &s.token, from, to, "month");
    assert_eq!(
        by_month,
        json!([
            {"key": "2026-11", "due": 1, "met": 1, "breached": 0, "still_open": 0,
             "compliance_pct": 100.0, "median_reply_hours": 10.0, "p90_reply_hours": 10.0},
            {"key": "2026-12", "due": 2, "met": 1, "breached": 1, "still_open": 0,
             "compliance_pct": 50.0, "median_reply_hours": 1.49, "p90_reply_hours": 1.9},
            {"key": "2027-01", "due": 2, "met": 0, "breached": 1, "still_open": 1,
             "compliance_pct": 0.0, "median_reply_hours": null, "p90_reply_hours": null},
        ])
    );
    // Each month alone through the per-clock arithmetic (all unassigned): the same figures.
    let bounds = [
        "2026-11-01T00:00:00+09:00",
        "2026-12-01T00:00:00+09:00",
        "2027-01-01T00:00:00+09:00",
        "2027-02-01T00:00:00+09:00",
    ];
    for (i, month) in by_month.as_array().unwrap().iter().enumerate() {
        let mut per_clock = rows(&app, &s.token, bounds[i], bounds[i + 1], "counsellor");
        assert_eq!(per_clock[0]["key"], "unassigned");
        per_clock[0]["key"] = month["key"].clone();
        assert_eq!(per_clock, json!([month]), "month {i}");
    }
    // A window starting at Tokyo midnight on December 1st leaves November's clock out.
    let december = rows(&app, &s.token, "2026-12-01T00:00:00+09:00", to, "month");
    let keys: Vec<&str> = december
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["2026-12", "2027-01"]);
}
