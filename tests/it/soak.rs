//! The soak, short (issue 17, point 6): the driver `scripts/bench soak` runs for 30 minutes,
//! here for 25 seconds — the real `madoguchi serve` on a PostgreSQL cluster of its own, the
//! form, the API, `ingest`, IMAP and staff reading and replying all at once, serve killed with
//! SIGKILL at 40 % and PostgreSQL restarted at 70 %. Nothing acknowledged may be lost, at
//! most 2 consultations and 2 mails doubled, serve's memory flat within 25 %.
//!
//! PostgreSQL only: the point is the database going away under load and the service's own
//! process dying beside it; SQLite's faults have their own tests (`sqlite_faults`).

mod driver;

/// `SOAK_SECONDS` makes it longer (or shorter) by hand.
#[test]
fn mixed_load_through_a_kill_and_a_postgres_restart_loses_nothing() {
    let seconds = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25.0);
    let report = driver::run(&driver::Plan::ci(seconds));
    report.print();
    let problems = report.problems();
    assert!(problems.is_empty(), "the soak failed: {problems:#?}");
}
