//! Public intake's group commit (issue 16): concurrent consultations and IMAP mail share one
//! write transaction, a savepoint each, and each caller hears of its own item only once the
//! group is committed.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::Duration;

use diesel::prelude::*;
use madoguchi::db::group_commit::Pending;
use madoguchi::db::schema::{consulters, messages, outbound_mail, tickets};
use madoguchi::db::{DbConn, DbError};
use madoguchi::desk::DeskError;
use madoguchi::desk::consultation::{self, Opened, Opening};
use madoguchi::domain::consultation::{Limits, validate_json};
use madoguchi::timesource::TimeSource;

use crate::both_backends;
use crate::support::dovecot::{self, Dovecot};
use crate::support::{
    Backend, TestApp, TestDb, consultation, eventually, spawn_app, spawn_app_with, spawn_on,
    test_settings,
};

both_backends!(
    concurrent_consultations_are_each_stored_once_before_their_201,
    an_item_failing_in_a_group_costs_the_others_nothing,
    a_group_whose_commit_fails_answers_none_as_stored,
    imap_mail_shares_the_group_commit_and_is_threaded,
    parallel_groups_of_the_same_new_consulters_in_opposite_orders_all_commit,
    a_quiet_server_gives_its_committers_connections_back,
);

/// A connection of its own, outside the server's pool: what another process would see.
fn fresh_conn(url: &str) -> DbConn {
    match url.strip_prefix("sqlite://") {
        Some(path) => DbConn::Sqlite(SqliteConnection::establish(path).expect("SQLite opens")),
        None => DbConn::Postgres(PgConnection::establish(url).expect("PostgreSQL answers")),
    }
}

fn count_tickets(app: &TestApp) -> i64 {
    let mut conn = app.conn();
    tickets::table.count().get_result(&mut *conn).unwrap()
}

fn acknowledgements(app: &TestApp) -> i64 {
    let mut conn = app.conn();
    outbound_mail::table
        .filter(outbound_mail::kind.eq("acknowledgement"))
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

fn concurrent_consultations_are_each_stored_once_before_their_201(backend: Backend) {
    const CLIENTS: usize = 8;
    const EACH: usize = 6;
    let app = spawn_app_with(backend, |s| s.intake.rate_limit_per_hour = 0);
    let url = app.db_url();
    let references: Vec<String> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (app, url) = (&app, &url);
                s.spawn(move || {
                    let mut fresh = fresh_conn(url);
                    (0..EACH)
                        .map(|i| {
                            let r = app.post_json(
                                "/api/v1/consultations",
                                &consultation(&format!("c{c}.{i}@example.jp")),
                            );
                            assert_eq!(r.status, 201, "{}", r.body);
                            let reference = r.json()["reference"].as_str().unwrap().to_string();
                            // Committed when answered: another connection reads it at once.
                            let stored: i64 = tickets::table
                                .filter(tickets::reference.eq(&reference))
                                .count()
                                .get_result(&mut fresh)
                                .unwrap();
                            assert_eq!(stored, 1, "{reference} is committed before its 201");
                            reference
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    let n = CLIENTS * EACH;
    let distinct: BTreeSet<&String> = references.iter().collect();
    assert_eq!(distinct.len(), n, "each reference once");
    assert_eq!(
        count_tickets(&app),
        n as i64,
        "each consultation stored once"
    );
    assert_eq!(
        acknowledgements(&app),
        n as i64,
        "each acknowledgement queued"
    );
    let mut conn = app.conn();
    let emails: i64 = consulters::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(emails, n as i64);
    let (groups, items) = app.state.commits.counts();
    assert_eq!(
        items, n as u64,
        "every consultation went through the group commit"
    );
    assert!(groups >= 1 && groups <= items, "{groups} groups");
}

/// A consultation opened in the group commit, as `submit` does it.
fn open_in_group(app: &TestApp, email: &str) -> Pending<Opened, DeskError> {
    let st = app.state.clone();
    let c = validate_json(
        &consultation(email),
        &Limits {
            max_body_chars: 10_000,
        },
    )
    .expect("a valid consultation");
    let now = app.time.now();
    app.state
        .commits
        .enqueue(move |conn| consultation::open(&st, conn, &Opening::from_form(&c, None), now))
}

/// Every committer held in a group of its own until released: what is queued meanwhile makes
/// the next group, all together (one committer on SQLite, several on PostgreSQL).
struct Held(Vec<(Pending<(), DeskError>, mpsc::Sender<()>)>);

impl Held {
    fn release(self) {
        let held: Vec<_> = self
            .0
            .into_iter()
            .map(|(held, go)| {
                go.send(()).unwrap();
                held
            })
            .collect();
        for held in held {
            held.wait_blocking().expect("a holding item");
        }
    }
}

/// Each holding item is queued only once the previous one runs, so that each is taken by a
/// committer not yet held.
fn hold_the_committers(app: &TestApp) -> Held {
    Held(
        (0..app.state.commits.committers())
            .map(|_| {
                let (started, is_started) = mpsc::channel();
                let (go, wait_go) = mpsc::channel::<()>();
                let held = app.state.commits.enqueue(move |_conn| {
                    started.send(()).unwrap();
                    wait_go.recv_timeout(Duration::from_secs(30)).unwrap();
                    Ok::<(), DeskError>(())
                });
                is_started
                    .recv_timeout(Duration::from_secs(30))
                    .expect("a committer runs the holding item");
                (held, go)
            })
            .collect(),
    )
}

fn an_item_failing_in_a_group_costs_the_others_nothing(backend: Backend) {
    let app = spawn_app(backend);
    let held = hold_the_committers(&app);
    let (groups_before, _) = app.state.commits.counts();

    let first = open_in_group(&app, "first@example.jp");
    // Does its work, then fails: its savepoint goes, with the ticket it had opened.
    let st = app.state.clone();
    let c = validate_json(
        &consultation("refused@example.jp"),
        &Limits {
            max_body_chars: 10_000,
        },
    )
    .unwrap();
    let now = app.time.now();
    let refused = app.state.commits.enqueue(move |conn| {
        consultation::open(&st, conn, &Opening::from_form(&c, None), now)?;
        Err::<Opened, _>(DeskError::Forbidden("forced failure"))
    });
    // A statement the database refuses (a reference taken): on PostgreSQL it would abort the
    // whole transaction but for the savepoint.
    let st = app.state.clone();
    let duplicate = app.state.commits.enqueue(move |conn| {
        let taken: String = tickets::table
            .select(tickets::reference)
            .order(tickets::id.desc())
            .first(conn)
            .map_err(DbError::from)?;
        let details = madoguchi::db::tickets::TicketDetails {
            subject: "dup",
            channel: madoguchi::domain::vocabulary::Channel::WebForm,
            consulter_email: "duplicate@example.jp",
            consulter_name: None,
            relationship: None,
            age_group: None,
            area: None,
        };
        madoguchi::db::tickets::open(conn, &taken, &details, st.time.now())?;
        Ok::<(), DeskError>(())
    });
    let last = open_in_group(&app, "last@example.jp");
    held.release();
    let first = first.wait_blocking().expect("the first is stored");
    assert!(matches!(
        refused.wait_blocking(),
        Err(DeskError::Forbidden("forced failure"))
    ));
    let dup = duplicate
        .wait_blocking()
        .expect_err("a duplicate reference is refused");
    assert!(
        matches!(&dup, DeskError::Db(e) if e.is_unique_violation()),
        "its own error: {dup}"
    );
    let last = last
        .wait_blocking()
        .expect("the one after a refused statement is stored");
    let (groups_after, _) = app.state.commits.counts();
    assert_eq!(
        groups_after - groups_before,
        app.state.commits.committers() as u64 + 1,
        "the held groups, then one for the rest"
    );

    let mut fresh = fresh_conn(&app.db_url());
    let mut emails: Vec<String> = consulters::table
        .select(consulters::email)
        .order(consulters::email)
        .load(&mut fresh)
        .unwrap();
    emails.sort();
    assert_eq!(emails, ["first@example.jp", "last@example.jp"]);
    for opened in [&first, &last] {
        let stored: i64 = tickets::table
            .filter(tickets::reference.eq(&opened.reference))
            .count()
            .get_result(&mut fresh)
            .unwrap();
        assert_eq!(stored, 1);
        assert!(opened.acknowledged);
    }
    assert_eq!(acknowledgements(&app), 2, "none for the failed items");
}

fn a_group_whose_commit_fails_answers_none_as_stored(backend: Backend) {
    let app = spawn_app(backend);
    // A row checked only at COMMIT: it makes the group's commit fail.
    diesel::sql_query(
        "CREATE TABLE gc_probe (ticket_id BIGINT REFERENCES tickets (id) \
         DEFERRABLE INITIALLY DEFERRED)",
    )
    .execute(&mut *app.conn())
    .unwrap();
    let held = hold_the_committers(&app);
    let before = open_in_group(&app, "before@example.jp");
    let breaker = app.state.commits.enqueue(|conn| {
        diesel::sql_query("INSERT INTO gc_probe (ticket_id) VALUES (-1)")
            .execute(conn)
            .map_err(DbError::from)?;
        Ok::<(), DeskError>(())
    });
    let after = open_in_group(&app, "after@example.jp");
    held.release();
    for answer in [
        before.wait_blocking().map(|_| ()),
        breaker.wait_blocking(),
        after.wait_blocking().map(|_| ()),
    ] {
        let e = answer.expect_err("nothing of a failed group is answered as stored");
        assert!(
            matches!(&e, DeskError::Db(db) if db.is_unavailable()),
            "try again: {e}"
        );
    }
    assert_eq!(count_tickets(&app), 0);
    assert_eq!(acknowledgements(&app), 0);

    // The committer and its connection go on.
    let r = app.post_json("/api/v1/consultations", &consultation("later@example.jp"));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(count_tickets(&app), 1);
}

fn mail(from: &str, id: &str, in_reply_to: Option<&str>) -> Vec<u8> {
    let thread = in_reply_to
        .map(|r| format!("In-Reply-To: <{r}>\r\nReferences: <{r}>\r\n"))
        .unwrap_or_default();
    format!(
        "From: {from}\r\nTo: soudan@example.org\r\nSubject: soudan\r\nMessage-ID: <{id}>\r\n\
         {thread}Date: Wed, 25 Nov 2026 10:00:00 +0900\r\nContent-Type: text/plain; charset=UTF-8\r\n\
         \r\nhello\r\n"
    )
    .into_bytes()
}

fn imap_mail_shares_the_group_commit_and_is_threaded(backend: Backend) {
    let imap = Dovecot::start();
    let db = std::sync::Arc::new(TestDb::new(backend));
    let mut settings = test_settings(&db);
    settings.imap.enabled = true;
    settings.imap.port = imap.port;
    settings.imap.username = dovecot::USER.into();
    settings.imap.password = dovecot::PASSWORD.into();
    settings.imap.poll_seconds = 1;
    imap.append(&mail("Hanako <hanako@example.jp>", "gc-1@example.jp", None));
    imap.append(&mail(
        "Hanako <hanako@example.jp>",
        "gc-2@example.jp",
        Some("gc-1@example.jp"),
    ));
    imap.append(&mail("Taro <taro@example.jp>", "gc-3@example.jp", None));
    let app = spawn_on(db, settings);
    for i in 0..6 {
        let r = app.post_json(
            "/api/v1/consultations",
            &consultation(&format!("api{i}@example.jp")),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let inbound = || {
        let mut conn = app.conn();
        messages::table
            .filter(messages::kind.eq("inbound"))
            .filter(messages::rfc_message_id.is_not_null())
            .count()
            .get_result::<i64>(&mut *conn)
            .unwrap()
    };
    let seen = eventually(Duration::from_secs(30), || {
        (inbound() == 3 && imap.seen_uids() == [1, 2, 3]).then_some(())
    });
    assert!(
        seen.is_some(),
        "mail stored: {}, seen {:?}",
        inbound(),
        imap.seen_uids()
    );

    let mut conn = app.conn();
    let ticket_of = |conn: &mut DbConn, id: &str| -> i64 {
        messages::table
            .filter(messages::rfc_message_id.eq(id))
            .select(messages::ticket_id)
            .first(conn)
            .unwrap()
    };
    let first = ticket_of(&mut conn, "gc-1@example.jp");
    assert_eq!(
        ticket_of(&mut conn, "gc-2@example.jp"),
        first,
        "the answer joins its thread"
    );
    assert_ne!(ticket_of(&mut conn, "gc-3@example.jp"), first);
    let position = madoguchi::db::imap_state::imap_position(&mut conn, "INBOX")
        .unwrap()
        .unwrap();
    assert_eq!(position.1, 3, "the position is committed with the mail");
    drop(conn);
    assert_eq!(count_tickets(&app), 8, "two by mail, six by the API");
    assert_eq!(acknowledgements(&app), 8);
    let (_, items) = app.state.commits.counts();
    assert_eq!(
        items, 9,
        "three mails and six consultations through the group commit"
    );
}

/// Two groups at once (two PostgreSQL committers), the same 64 new addresses in each, one
/// group queued in the opposite order of the other: unordered, each group's insert of a new
/// consulter waits for the other group's uncommitted one, in a circle, until PostgreSQL
/// aborts one as a deadlock. SQLite has one committer: the groups run one after the other.
fn parallel_groups_of_the_same_new_consulters_in_opposite_orders_all_commit(backend: Backend) {
    // The most items in a group: each half is a group of its own.
    const EACH: usize = 64;
    let app = spawn_app_with(backend, |s| s.intake.rate_limit_per_hour = 0);
    let held = hold_the_committers(&app);
    let pending: Vec<_> = (0..EACH)
        .chain((0..EACH).rev())
        .map(|i| {
            let c = validate_json(
                &consultation(&format!("both{i:02}@example.jp")),
                &Limits {
                    max_body_chars: 10_000,
                },
            )
            .unwrap();
            consultation::enqueue(&app.state, c, None)
        })
        .collect();
    let (groups_before, _) = app.state.commits.counts();
    held.release();
    for (i, p) in pending.into_iter().enumerate() {
        if let Err(e) = p.wait_blocking() {
            panic!("consultation {i} not stored: {e}");
        }
    }
    let (groups_after, _) = app.state.commits.counts();
    assert!(groups_after - groups_before >= 2, "two groups at least");
    assert_eq!(count_tickets(&app), 2 * EACH as i64);
    let mut conn = app.conn();
    let consulters: i64 = consulters::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(consulters, EACH as i64, "each address one consulter");
}

/// Once the work stops, every committer gives its connection back to the pool within a
/// moment: on PostgreSQL several committers share the queue, and one kept its connection,
/// waiting for the queue another committer held while waiting for work, for as long as
/// nobody wrote (the readers and workers were one connection short).
fn a_quiet_server_gives_its_committers_connections_back(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.intake.rate_limit_per_hour = 0);
    for i in 0..6 {
        let r = app.post_json(
            "/api/v1/consultations",
            &consultation(&format!("q{i}@example.jp")),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let all_back = eventually(Duration::from_secs(10), || {
        let state = app.state.pool.state();
        (state.idle_connections == state.connections).then_some(())
    });
    let state = app.state.pool.state();
    assert!(
        all_back.is_some(),
        "{} of {} connections still checked out after the work stopped",
        state.connections - state.idle_connections,
        state.connections
    );
}
