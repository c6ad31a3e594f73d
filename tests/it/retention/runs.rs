//! Retention's runs: the daily round of `serve` (on the hand-set clock, and as two real
//! processes on one PostgreSQL), and a run killed midway then finished by the next.

use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use madoguchi::desk::retention;
use serde_json::json;

use super::{
    SUPERVISOR, app, audits, bodies, erased_at, file, madoguchi, outbox_empty, patch, scene, text,
    token,
};
use crate::both_backends;
use crate::support::process::ServeProcess;
use crate::support::{Backend, TestApp, eventually};

both_backends!(
    the_daily_round_runs_once_a_day_after_its_time,
    a_run_killed_midway_is_finished_by_the_next,
);

mod postgres_only {
    #[test]
    fn two_serve_processes_on_one_postgres_run_the_day_once() {
        super::two_serve_processes_run_the_day_once();
    }
}

/// The daily job of `serve`, round by round on the hand-set clock: nothing before its time,
/// once on the day, again the next day.
fn the_daily_round_runs_once_a_day_after_its_time(backend: Backend) {
    let app = app(backend, 5);
    let t = scene(&app);
    // 02:00 in Tokyo, before the 03:00 of retention.run_time.
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive();
    let local = |day: chrono::NaiveDate, h: u32| {
        day.and_hms_opt(h, 0, 0)
            .unwrap()
            .and_local_timezone(chrono_tz::Asia::Tokyo)
            .unwrap()
            .with_timezone(&Utc)
    };
    let round = || {
        let mut conn = app.conn();
        retention::daily_round(&app.state, &mut conn).unwrap()
    };
    app.time.set(local(today, 2));
    assert_eq!(round(), None, "before its time");
    assert!(erased_at(&app, t.answered).is_none());
    app.time.set(local(today, 3));
    assert_eq!(round().map(|c| c.tickets), Some(3));
    app.time.set(local(today, 23));
    assert_eq!(round(), None, "once a day");
    app.time.set(local(today.succ_opt().unwrap(), 4));
    assert_eq!(
        round().map(|c| c.tickets),
        Some(0),
        "the next day it looks again"
    );
    assert_eq!(audits(&app, "retention.run").len(), 2);
    assert_eq!(audits(&app, "ticket.erase").len(), 3);
}

/// Many old tickets, the command killed while it erases (a pause after each ticket makes
/// "while" certain), then run again: every ticket is whole or erased, never half, and the
/// second run finishes the rest with one erasure each.
fn a_run_killed_midway_is_finished_by_the_next(backend: Backend) {
    const N: usize = 40;
    let app = app(backend, 0);
    app.add_staff(SUPERVISOR, "supervisor");
    app.time.set(Utc::now() - ChronoDuration::days(6 * 365));
    let s = token(&app, SUPERVISOR);
    let ids: Vec<i64> = (0..N)
        .map(|i| {
            let id = file(
                &app,
                &format!("p{i}@example.jp"),
                "相談",
                "息子が部屋から出ません。",
            );
            assert_eq!(patch(&app, &s, id, json!({"status": "closed"})), 204);
            id
        })
        .collect();
    outbox_empty(&app);
    app.time.set(Utc::now());

    let whole_or_erased = |app: &TestApp| -> usize {
        let mut erased = 0;
        for id in &ids {
            let texts = bodies(app, *id);
            match erased_at(app, *id) {
                Some(_) => {
                    erased += 1;
                    assert!(texts.iter().all(String::is_empty), "half erased: {texts:?}");
                }
                None => assert!(
                    texts.iter().all(|t| !t.is_empty()),
                    "half erased: {texts:?}"
                ),
            }
        }
        erased
    };

    let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .args(["retention", "run"])
        .env("MADOGUCHI_DATABASE__URL", app.db_url())
        .env(
            "MADOGUCHI_SMTP__FILE_DIR",
            &app.state.settings.smtp.file_dir,
        )
        .env("MADOGUCHI_LOG__LEVEL", "warn")
        .env("MADOGUCHI_RETENTION__ERASE_AFTER_YEARS", "5")
        .env("MADOGUCHI_RETENTION__PAUSE_MS", "40")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let midway = eventually(Duration::from_secs(60), || {
        (audits(&app, "ticket.erase").len() >= 8).then_some(())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(midway.is_some(), "the run did not get going");
    let erased = whole_or_erased(&app);
    assert!((8..N).contains(&erased), "killed midway: {erased} of {N}");
    assert_eq!(audits(&app, "ticket.erase").len(), erased);
    assert!(
        audits(&app, "retention.run").is_empty(),
        "it never finished"
    );

    let rerun = madoguchi(
        &app,
        &["retention", "run"],
        &[("MADOGUCHI_RETENTION__ERASE_AFTER_YEARS", "5")],
    );
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun));
    assert!(
        String::from_utf8_lossy(&rerun.stdout).contains(&format!("erased {} tickets", N - erased)),
        "{}",
        text(&rerun)
    );
    assert_eq!(whole_or_erased(&app), N);
    let mut once: Vec<i64> = audits(&app, "ticket.erase")
        .iter()
        .filter_map(|e| e.0)
        .collect();
    once.sort_unstable();
    assert_eq!(once, ids, "each ticket erased exactly once");
}

/// Two `serve` processes on one PostgreSQL with retention on: the day's run happens once, and
/// a third started after it does not run it again.
fn two_serve_processes_run_the_day_once() {
    const N: usize = 12;
    let app = app(Backend::Postgres, 0);
    app.add_staff(SUPERVISOR, "supervisor");
    app.time.set(Utc::now() - ChronoDuration::days(6 * 365));
    let s = token(&app, SUPERVISOR);
    let ids: Vec<i64> = (0..N)
        .map(|i| {
            let id = file(
                &app,
                &format!("q{i}@example.jp"),
                "相談",
                "息子が部屋から出ません。",
            );
            assert_eq!(patch(&app, &s, id, json!({"status": "closed"})), 204);
            id
        })
        .collect();
    outbox_empty(&app);
    let mail_dir = app.state.settings.smtp.file_dir.clone();
    let env = [
        ("MADOGUCHI_RETENTION__ERASE_AFTER_YEARS", "5"),
        ("MADOGUCHI_RETENTION__RUN_TIME", "00:00"),
        ("MADOGUCHI_RETENTION__PAUSE_MS", "50"),
        ("MADOGUCHI_ALERTS__ENABLED", "false"),
        ("MADOGUCHI_SMTP__FILE_DIR", mail_dir.as_str()),
    ];
    let a = ServeProcess::start(&app.db_url(), &env);
    let b = ServeProcess::start(&app.db_url(), &env);
    let done = eventually(Duration::from_secs(60), || {
        (audits(&app, "retention.run").len() == 1).then_some(())
    });
    assert!(done.is_some(), "{:?}\n{:?}", a.lines(), b.lines());
    let c = ServeProcess::start(&app.db_url(), &env);
    std::thread::sleep(Duration::from_secs(3));
    let ran = |p: &ServeProcess| {
        p.lines()
            .iter()
            .filter(|l| l.contains("retention run finished"))
            .count()
    };
    assert_eq!(
        ran(&a) + ran(&b) + ran(&c),
        1,
        "{:?}\n{:?}",
        a.lines(),
        b.lines()
    );
    assert_eq!(audits(&app, "retention.run").len(), 1);
    let mut once: Vec<i64> = audits(&app, "ticket.erase")
        .iter()
        .filter_map(|e| e.0)
        .collect();
    once.sort_unstable();
    assert_eq!(once, ids, "each ticket erased once");
}
