//! Who is limited, and by how much, when many try to sign in or write (issue 10, points 14
//! and 15): forwarded addresses believed only from trusted proxies, sign-in allowances per
//! account and address, and a flood of wrong passwords against a real serve process.

use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::process::ServeProcess;
use crate::support::{Backend, STAFF_PASSWORD, TestApp, TestDb, consultation};

both_backends!(
    behind_a_trusted_proxy_each_forwarded_client_has_its_own_limits,
    a_forged_forwarded_address_from_an_untrusted_peer_is_ignored,
    wrong_passwords_from_one_address_do_not_lock_the_owner_out_elsewhere,
    a_flood_of_wrong_passwords_keeps_the_server_small_and_counts_exactly,
);

/// A JSON POST that a proxy forwarded for `client` (an `X-Forwarded-For` header).
fn post_via(app: &TestApp, path: &str, forwarded_for: &str, body: &Value) -> u16 {
    app.http
        .post(app.url(path))
        .header("x-forwarded-for", forwarded_for)
        .send_json(body)
        .expect("the request reached the server")
        .status()
        .as_u16()
}

fn login_via(app: &TestApp, forwarded_for: &str, email: &str, password: &str) -> u16 {
    post_via(
        app,
        "/api/v1/auth/login",
        forwarded_for,
        &json!({"email": email, "password": password}),
    )
}

fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limits(backend: Backend) {
    let app = crate::support::spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.intake.rate_limit_per_hour = 2;
    });
    let consult = |client: &str, n: usize| {
        post_via(
            &app,
            "/api/v1/consultations",
            client,
            &consultation(&format!("p{n}@example.jp")),
        )
    };
    // The proxy appends the address it saw; what the client claimed stays on the left.
    assert_eq!(consult("203.0.113.1", 0), 201);
    assert_eq!(consult("198.51.100.77, 203.0.113.1", 1), 201);
    assert_eq!(
        consult("192.0.2.200, 203.0.113.1", 2),
        429,
        "the third from one person"
    );
    assert_eq!(
        consult("203.0.113.2", 3),
        201,
        "another person is not refused for it"
    );
    assert_eq!(consult("203.0.113.2:40312", 4), 201);
    assert_eq!(consult("203.0.113.2", 5), 429);

    app.add_staff("kato@center.example", "counsellor");
    for _ in 0..5 {
        assert_eq!(
            login_via(&app, "203.0.113.9", "kato@center.example", "wrong guess"),
            401
        );
    }
    assert_eq!(
        login_via(&app, "203.0.113.9", "kato@center.example", STAFF_PASSWORD),
        429
    );
    assert_eq!(
        login_via(&app, "203.0.113.10", "kato@center.example", STAFF_PASSWORD),
        200
    );
}

fn a_forged_forwarded_address_from_an_untrusted_peer_is_ignored(backend: Backend) {
    // Once with no proxies at all, once with proxies that do not include the test's peer.
    for trusted in [vec![], vec!["10.0.0.0/8".parse().unwrap()]] {
        let app = crate::support::spawn_app_with(backend, |s| {
            s.server.trusted_proxies = trusted;
            s.intake.rate_limit_per_hour = 2;
        });
        let statuses: Vec<u16> = (0..3)
            .map(|n| {
                post_via(
                    &app,
                    "/api/v1/consultations",
                    &format!("203.0.113.{n}"),
                    &consultation(&format!("p{n}@example.jp")),
                )
            })
            .collect();
        assert_eq!(
            statuses,
            vec![201, 201, 429],
            "a new claimed address changes nothing"
        );

        app.add_staff("kato@center.example", "counsellor");
        for n in 0..5 {
            let status = login_via(&app, &format!("198.51.100.{n}"), "kato@center.example", "x");
            assert_eq!(status, 401);
        }
        let status = login_via(&app, "198.51.100.99", "kato@center.example", STAFF_PASSWORD);
        assert_eq!(status, 429, "the forged header does not buy more guesses");
    }
}

fn wrong_passwords_from_one_address_do_not_lock_the_owner_out_elsewhere(backend: Backend) {
    let app = crate::support::spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    });
    app.add_staff("kato@center.example", "counsellor");
    let attacker = "203.0.113.66";
    let office = "192.0.2.10";
    for _ in 0..5 {
        assert_eq!(
            login_via(&app, attacker, "kato@center.example", "guess"),
            401
        );
    }
    assert_eq!(
        login_via(&app, attacker, "kato@center.example", "guess"),
        429
    );
    // The owner, at the office, is not locked out by the stranger's guesses ...
    assert_eq!(
        login_via(&app, office, "kato@center.example", STAFF_PASSWORD),
        200
    );
    // ... and signing in does not give the stranger fresh guesses.
    assert_eq!(
        login_via(&app, attacker, "kato@center.example", STAFF_PASSWORD),
        429
    );
    // The stranger trying other accounts from the same address meets the address's limit.
    let statuses: Vec<u16> = (0..20)
        .map(|i| login_via(&app, attacker, &format!("g{i}@center.example"), "guess"))
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        15,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        login_via(&app, office, "kato@center.example", STAFF_PASSWORD),
        200
    );
    // Past the cooling-off the stranger's failures count for nothing and are not kept: the
    // next attempt, from anywhere, deletes them (addresses are kept no longer than needed).
    let kept = |app: &TestApp| {
        use diesel::prelude::*;
        use madoguchi::db::schema::login_failures;
        let mut conn = app.conn();
        login_failures::table
            .count()
            .get_result::<i64>(&mut *conn)
            .unwrap()
    };
    assert_eq!(kept(&app), 20, "5 + 15 failures within the window");
    let cooling = app.state.settings.auth.cooling_off_minutes;
    app.time
        .advance(chrono::Duration::minutes(i64::from(cooling) + 1));
    assert_eq!(login_via(&app, office, "sato@center.example", "guess"), 401);
    assert_eq!(kept(&app), 1, "only the new failure is kept");
}

/// `n` sign-ins at once against a serve process, each from its own forwarded address as
/// `client(i)` names it; the statuses in any order.
fn parallel_logins(
    server: &ServeProcess,
    n: usize,
    client: impl Fn(usize) -> String,
    password: &str,
) -> Vec<u16> {
    let start = std::sync::Arc::new(std::sync::Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (start, url, from) = (start.clone(), server.url("/api/v1/auth/login"), client(i));
            let password = password.to_string();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(120)))
                    .build()
                    .into();
                start.wait();
                agent
                    .post(&url)
                    .header("x-forwarded-for", &from)
                    .send_json(json!({"email": "kato@center.example", "password": password}))
                    .map_or(0, |r| r.status().as_u16())
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

fn a_flood_of_wrong_passwords_keeps_the_server_small_and_counts_exactly(backend: Backend) {
    use diesel::prelude::*;
    use madoguchi::db::schema::login_failures;

    let db = TestDb::new(backend);
    let pool = madoguchi::db::connect(&crate::support::test_settings(&db).database).unwrap();
    madoguchi::desk::staff::create(
        &mut pool.get().unwrap(),
        "kato@center.example",
        "加藤",
        "counsellor",
        STAFF_PASSWORD,
        chrono::Utc::now(),
    )
    .unwrap();
    let failures = |addr: Option<&str>| -> usize {
        let mut conn = pool.get().unwrap();
        let mut q = login_failures::table.into_boxed();
        if let Some(a) = addr {
            q = q.filter(login_failures::client_addr.eq(a.to_string()));
        }
        q.count().get_result::<i64>(&mut *conn).unwrap() as usize
    };
    let server = ServeProcess::start(
        &db.url,
        &[("MADOGUCHI_SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]")],
    );

    // 300 strangers at once, each from an address of its own: no throttle stops them, so
    // only the bound on password checks keeps the memory down.
    let statuses = parallel_logins(
        &server,
        300,
        |i| format!("198.18.{}.{}", i / 250, i % 250 + 1),
        "wrong",
    );
    let peak_mb = server.status_kb("VmHWM") / 1024;
    eprintln!(
        "300 parallel wrong sign-ins ({backend:?}): peak RSS {peak_mb} MB, 401: {}, 503: {}",
        count(&statuses, 401),
        count(&statuses, 503)
    );
    assert!(peak_mb < 300, "peak RSS {peak_mb} MB");
    assert_eq!(
        count(&statuses, 401) + count(&statuses, 503),
        300,
        "{statuses:?}"
    );
    assert_eq!(
        failures(None),
        count(&statuses, 401),
        "each judged failure recorded, once"
    );

    // 300 at once from one address for one account: exactly the allowance is judged, the
    // rest are cooled off before any password is checked.
    let statuses = parallel_logins(&server, 300, |_| "192.0.2.1".into(), "wrong");
    assert_eq!(count(&statuses, 429), 295, "{statuses:?}");
    assert_eq!(
        count(&statuses, 401) + count(&statuses, 503),
        5,
        "{statuses:?}"
    );
    assert_eq!(failures(Some("192.0.2.1")), count(&statuses, 401));

    // And the service still answers, the owner signs in from the office.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let health = agent.get(&server.url("/healthz")).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let owner = agent
        .post(&server.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "192.0.2.50")
        .send_json(json!({"email": "kato@center.example", "password": STAFF_PASSWORD}))
        .unwrap();
    assert_eq!(owner.status().as_u16(), 200);
    assert!(server.status_kb("VmHWM") / 1024 < 300);
}
