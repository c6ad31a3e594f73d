//! The consulter's own page (issue 15, CONTRACT §10): a mother who shares the family computer
//! writes with a passphrase and notice-only, gets mail that says only that something waits,
//! reads the answer on the page from her phone and writes back. Over the JSON API and in
//! Chromium; strangers learn nothing, guesses are slowed, the page closes when left alone.

use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;
use mail_parser::MessageParser;
use serde_json::{Value, json};

use crate::both_backends;
use crate::desk::{URGENT_TEXT, look_at};
use crate::support::browser::browser;
use crate::support::smtp_server::{ReceivedMail, TestSmtpServer};
use crate::support::{Backend, TestApp, spawn_app_with};

both_backends!(
    a_mother_reads_the_reply_and_writes_back_through_the_api,
    strangers_learn_nothing_and_guesses_are_slowed,
    the_page_closes_when_left_alone,
    a_mother_on_her_phone_reads_the_reply_and_writes_back,
);

pub(crate) const MOTHER: &str = "hanako.yamada@example.jp";
pub(crate) const PASSPHRASE: &str = "sakura-umi-kaban";
pub(crate) const SUBJECT: &str = "息子のひきこもりについて";
pub(crate) const BODY: &str = "息子が3年ほど部屋から出てきません。夫には内緒で相談しています。";
pub(crate) const REPLY: &str = "お母さまへ。お一人で抱えてこられたのですね。まずはお母さまご自身が休めているか、教えてください。";

pub(crate) fn app(backend: Backend, smtp: Option<&TestSmtpServer>) -> TestApp {
    let port = smtp.map(TestSmtpServer::port);
    spawn_app_with(backend, move |s| {
        s.intake.rate_limit_per_hour = 0;
        s.alerts.enabled = false;
        // Addresses behind a proxy, so a test can be several households at once.
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        if let Some(port) = port {
            s.smtp.transport = madoguchi::config::MailTransport::Smtp;
            s.smtp.port = port;
        }
    })
}

/// A consultation through the public API; its reference and ticket id.
pub(crate) fn consult(app: &TestApp, email: &str, extra: Value) -> (String, i64) {
    let mut c = crate::support::consultation(email);
    c["subject"] = json!(SUBJECT);
    c["body"] = json!(BODY);
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    let r = app.post_json("/api/v1/consultations", &c);
    assert_eq!(r.status, 201, "{}", r.body);
    let reference = r.json()["reference"].as_str().unwrap().to_string();
    let mut conn = app.conn();
    let id = madoguchi::db::tickets::by_reference(&mut conn, &reference)
        .unwrap()
        .unwrap()
        .id
        .0;
    (reference, id)
}

/// The mails that reached `to`, in order, once there are `n` of them.
pub(crate) fn mails_to(smtp: &TestSmtpServer, to: &str, n: usize) -> Vec<ReceivedMail> {
    let start = Instant::now();
    loop {
        let got: Vec<ReceivedMail> = smtp
            .received()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .collect();
        if got.len() >= n || start.elapsed() > Duration::from_secs(20) {
            assert_eq!(got.len(), n, "mails to {to}");
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Subject and text of a mail as her mail program shows them.
pub(crate) fn shown(mail: &ReceivedMail) -> (String, String) {
    let m = MessageParser::default().parse(&mail.data).expect("a mail");
    (
        m.subject().unwrap_or("").to_string(),
        m.body_text(0).expect("a text").to_string(),
    )
}

/// Nothing of what she wrote, nor her name, nor the counsellor's words.
pub(crate) fn assert_notice_only(mail: &ReceivedMail, reference: &str, what: &str) {
    let (subject, text) = shown(mail);
    assert_eq!(subject, format!("お知らせ [#{reference}]"), "{what}");
    assert!(
        text.contains("/my\n") || text.contains("/my\r\n"),
        "{what}: {text}"
    );
    assert!(text.contains("内容を書いていません"), "{what}: {text}");
    // (The centre's own name says ひきこもり; it stands in From: as in every mail.)
    for secret in [
        "息子",
        "部屋",
        "内緒",
        "山田",
        "花子",
        "お母さま",
        "テスト 職員",
    ] {
        assert!(
            !text.contains(secret) && !subject.contains(secret),
            "{what} says 「{secret}」: {subject}\n{text}"
        );
    }
}

pub(crate) fn open_page(app: &TestApp, reference: &str, passphrase: &str) -> crate::support::Reply {
    app.post_json(
        "/api/v1/my/session",
        &json!({"reference": reference, "passphrase": passphrase}),
    )
}

pub(crate) fn page_token(app: &TestApp, reference: &str) -> String {
    let r = open_page(app, reference, PASSPHRASE);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["token"].as_str().unwrap().to_string()
}

fn reads_recorded(app: &TestApp, ticket: i64) -> i64 {
    use diesel::prelude::*;
    use madoguchi::db::schema::my_reads;
    let mut conn = app.conn();
    my_reads::table
        .filter(my_reads::ticket_id.eq(ticket))
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

fn a_mother_reads_the_reply_and_writes_back_through_the_api(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app(backend, Some(&smtp));
    let s = app.staff("s@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    let (reference, id) = consult(
        &app,
        MOTHER,
        json!({"passphrase": PASSPHRASE, "notice_only": true}),
    );
    let ack = &mails_to(&smtp, MOTHER, 1)[0];
    assert_notice_only(ack, &reference, "the acknowledgement");
    assert!(shown(ack).1.contains("受け付けました"));

    let ticket = format!("/api/v1/tickets/{id}");
    let r = app.call(
        "POST",
        &format!("{ticket}/notes"),
        Some(&c.token),
        Some(&json!({"body": "内部メモ：父親との関係に注意"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app.call(
        "POST",
        &format!("{ticket}/replies"),
        Some(&c.token),
        Some(&json!({"body": REPLY})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let reply_mail = &mails_to(&smtp, MOTHER, 2)[1];
    assert_notice_only(reply_mail, &reference, "the reply");
    assert!(shown(reply_mail).1.contains("お返事をご用意しました"));

    // Letter case and the hyphen do not matter, as in the desk's search.
    let typed = reference.to_lowercase().replace('-', "");
    let r = open_page(&app, &typed, PASSPHRASE);
    assert_eq!(r.status, 200, "{}", r.body);
    let opened = r.json();
    let token = opened["token"].as_str().unwrap().to_string();
    assert!(opened["expires_at"].as_str().unwrap().contains("+09:00"));

    let resp = app
        .http
        .get(app.url("/api/v1/my/consultation"))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers().get("cache-control").unwrap(),
        "no-store",
        "a shared computer keeps nothing of it"
    );
    let seen: Value = serde_json::from_str(&resp.into_body().read_to_string().unwrap()).unwrap();
    assert_eq!(seen["reference"], reference.as_str());
    assert_eq!(seen["status"], "waiting");
    let messages = seen["messages"].as_array().unwrap();
    let kinds: Vec<&str> = messages
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["inbound", "outbound"],
        "no note, no acknowledgement: {seen}"
    );
    assert_eq!(messages[0]["body_text"], BODY);
    assert_eq!(messages[1]["body_text"], REPLY);
    let mut keys: Vec<&String> = messages[1].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["body_text", "created_at", "id", "kind"],
        "no staff name or address"
    );
    assert!(!seen.to_string().contains("center.example"));
    assert_eq!(reads_recorded(&app, id), 1, "the read is recorded");

    // She writes again from the page; it is a consulter's message, triaged, with a clock.
    let r = app.call(
        "POST",
        "/api/v1/my/messages",
        Some(&token),
        Some(&json!({"body": format!("ありがとうございます。{URGENT_TEXT}と息子が言いました。")})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let written = r.json()["id"].as_i64().unwrap();
    let r = app.call(
        "POST",
        "/api/v1/my/messages",
        Some(&token),
        Some(&json!({"body": "  \n "})),
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"]["fields"]["body"], "required");

    let t = app.call("GET", &ticket, Some(&c.token), None).json();
    let last = t["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["id"], written);
    assert_eq!(last["kind"], "inbound");
    assert!(
        last["body_text"]
            .as_str()
            .unwrap()
            .contains("と息子が言いました")
    );
    assert!(last["system_note"].as_str().unwrap().contains("/my"));
    assert_eq!(t["status"], "open", "answered, then she wrote again");
    assert_eq!(t["urgent"], true, "an urgent phrase raises the flag");
    assert_eq!(t["sla_state"], "on_track", "a clock runs again");
    assert!(t["reply_due_at"].is_string());
    assert_eq!(t["my_page"]["reads_on_page"], true);
    assert_eq!(t["my_page"]["notice_only"], true);
    assert_eq!(t["my_page"]["latest_reply_read"], true);
    assert!(!t.to_string().contains(PASSPHRASE) && !t.to_string().contains("argon2"));

    // Her token opens nothing staff can do; a staff token opens nothing of hers.
    for (method, path, body) in [
        ("GET", "/api/v1/tickets".to_string(), None),
        ("GET", ticket.clone(), None),
        (
            "POST",
            format!("{ticket}/replies"),
            Some(json!({"body": "x"})),
        ),
        (
            "POST",
            format!("{ticket}/notes"),
            Some(json!({"body": "x"})),
        ),
        ("POST", "/api/v1/auth/logout".to_string(), None),
        ("DELETE", format!("{ticket}/my-access"), None),
        ("GET", "/api/v1/reports/overdue".to_string(), None),
    ] {
        let r = app.call(method, &path, Some(&token), body.as_ref());
        assert_eq!(r.status, 401, "{method} {path} with her token: {}", r.body);
    }
    let r = app.call("GET", "/api/v1/my/consultation", Some(&s.token), None);
    assert_eq!(r.status, 401, "a staff token is no consulter's");
    assert_eq!(reads_recorded(&app, id), 1);

    // The pages work without script: they carry none.
    for page in ["/my", "/consult"] {
        let html = app.get(page).body;
        assert!(
            html.contains("合言葉") && !html.contains("<script"),
            "{page}"
        );
    }

    let r = app.call("DELETE", "/api/v1/my/session", Some(&token), None);
    assert_eq!(r.status, 204);
    let r = app.call("GET", "/api/v1/my/consultation", Some(&token), None);
    assert_eq!(r.status, 401, "signed out");
}

fn strangers_learn_nothing_and_guesses_are_slowed(backend: Backend) {
    let app = app(backend, None);
    let (reference, _) = consult(&app, MOTHER, json!({"passphrase": PASSPHRASE}));
    let (plain, _) = consult(&app, "other@example.jp", json!({}));

    // A passphrase too short, or notice-only without one: 422 naming the field.
    for extra in [
        json!({"passphrase": "short"}),
        json!({"notice_only": true}),
        json!({"passphrase": "a".repeat(129)}),
    ] {
        let mut c = crate::support::consultation("x@example.jp");
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        let r = app.post_json("/api/v1/consultations", &c);
        assert_eq!(r.status, 422, "{extra}: {}", r.body);
        assert!(
            r.json()["error"]["fields"]["passphrase"].is_string(),
            "{}",
            r.body
        );
    }

    let from = |addr: &str, reference: &str, passphrase: &str| {
        let started = Instant::now();
        let mut resp = app
            .http
            .post(app.url("/api/v1/my/session"))
            .header("x-forwarded-for", addr)
            .send_json(json!({"reference": reference, "passphrase": passphrase}))
            .unwrap();
        let body = resp.body_mut().read_to_string().unwrap();
        (resp.status().as_u16(), body, started.elapsed())
    };
    let wrong = from("203.0.113.1", &reference, "not-the-passphrase");
    let unknown = from("203.0.113.2", "ZZZZ-ZZZZ", PASSPHRASE);
    let without = from("203.0.113.3", &plain, PASSPHRASE);
    let nonsense = from("203.0.113.4", "だれかの番号", PASSPHRASE);
    assert_eq!(wrong.0, 401);
    for other in [&unknown, &without, &nonsense] {
        assert_eq!((other.0, &other.1), (wrong.0, &wrong.1), "the same answer");
    }
    // The same argon2 check runs for an unknown reference (debug builds optimise argon2).
    let slowest = [&wrong, &unknown, &without]
        .map(|r| r.2)
        .into_iter()
        .max()
        .unwrap();
    for r in [&unknown, &without] {
        assert!(r.2 * 4 >= slowest, "{:?} against {:?}", r.2, slowest);
    }

    // Failures for one reference add up from every address: the 6th try is slowed, even
    // with the right passphrase.
    for i in 2..=5 {
        assert_eq!(from(&format!("198.51.100.{i}"), &reference, "guess").0, 401);
    }
    let slowed = from("198.51.100.9", &reference, PASSPHRASE);
    assert_eq!(slowed.0, 429, "{}", slowed.1);
    assert_eq!(
        serde_json::from_str::<Value>(&slowed.1).unwrap()["error"]["code"],
        "too_many_attempts"
    );
    // One address trying many references is slowed too (four times a reference's share).
    for i in 0..20 {
        let guess = format!("ABCD-{:04}", 1000 + i);
        assert_eq!(from("192.0.2.7", &guess, "guess").0, 401, "try {i}");
    }
    assert_eq!(
        from("192.0.2.7", &plain, "guess").0,
        429,
        "the address is cooled off"
    );
    // Cooled off, its owner opens the page.
    app.time.advance(ChronoDuration::minutes(16));
    let r = from("198.51.100.9", &reference, PASSPHRASE);
    assert_eq!(r.0, 200, "{}", r.1);
    // The failures past the window were deleted by that attempt, the reference's own by its
    // success: no address is kept longer than it counts.
    let mut conn = app.conn();
    use diesel::prelude::*;
    let kept: i64 = madoguchi::db::schema::my_sign_in_failures::table
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(kept, 0);
}

fn the_page_closes_when_left_alone(backend: Backend) {
    let app = app(backend, None);
    let (reference, _) = consult(&app, MOTHER, json!({"passphrase": PASSPHRASE}));
    let token = page_token(&app, &reference);
    let read = |app: &TestApp| app.call("GET", "/api/v1/my/consultation", Some(&token), None);
    assert_eq!(read(&app).status, 200);
    app.time.advance(ChronoDuration::minutes(29));
    assert_eq!(read(&app).status, 200, "used within the half hour");
    app.time.advance(ChronoDuration::minutes(29));
    assert_eq!(read(&app).status, 200, "each use moves the end on");
    app.time.advance(ChronoDuration::minutes(31));
    let r = read(&app);
    assert_eq!(r.status, 401, "left alone for 31 minutes");
    assert_eq!(r.json()["error"]["code"], "token_expired");
}

fn a_mother_on_her_phone_reads_the_reply_and_writes_back(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app(backend, Some(&smtp));
    app.add_staff("s@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    std::fs::create_dir_all(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/screenshots/mypage"
    ))
    .unwrap();
    let mut b = browser();
    b.goto(&app.url("/consult"));
    b.type_into("メールアドレス", MOTHER);
    b.type_into("お名前", "山田 花子");
    b.choose("ご家族");
    b.type_into("件名", SUBJECT);
    b.type_into("ご相談の内容", BODY);
    b.type_into("合言葉", "short");
    b.choose("メールには本文を書かず、お知らせだけ送る");
    b.choose("ご相談の内容は、相談への対応のためだけに使い");
    look_at(&mut b, "mypage/consult");
    app.time.advance(ChronoDuration::seconds(3));
    b.press("相談を送る");
    assert!(
        b.text().contains("合言葉：合言葉は8文字以上にしてください"),
        "{}",
        b.text()
    );
    assert_eq!(
        b.value_of("合言葉"),
        "",
        "a passphrase is never shown again"
    );
    assert!(b.is_checked("メールには本文を書かず"), "the choice is kept");
    look_at(&mut b, "mypage/consult-error");
    b.type_into("合言葉", PASSPHRASE);
    b.press("相談を送る");
    let text = b.text();
    assert!(text.contains("ご相談を受け付けました"), "{text}");
    assert!(
        text.contains("お返事の読みかた") && text.contains("/my"),
        "{text}"
    );
    assert!(
        text.contains("メールでは、お知らせだけをお送りします"),
        "{text}"
    );
    let reference = b
        .js_value("return document.querySelector('.reference').innerText.trim();")
        .as_str()
        .unwrap()
        .to_string();
    look_at(&mut b, "mypage/receipt");
    let ack = &mails_to(&smtp, MOTHER, 1)[0];
    assert_notice_only(ack, &reference, "the acknowledgement of the form");

    let id = {
        let mut conn = app.conn();
        madoguchi::db::tickets::by_reference(&mut conn, &reference)
            .unwrap()
            .unwrap()
            .id
            .0
    };
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/replies"),
        Some(&c.token),
        Some(&json!({"body": REPLY})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_notice_only(&mails_to(&smtp, MOTHER, 2)[1], &reference, "the reply");

    // On her phone.
    b.set_width(390);
    b.goto(&app.url("/my"));
    look_at(&mut b, "mypage/my-sign-in");
    b.type_into("受付番号", &reference.to_lowercase());
    b.type_into("合言葉", "wrong-passphrase");
    app.time.advance(ChronoDuration::seconds(3));
    b.press("開く");
    assert!(
        b.text().contains("受付番号または合言葉が違います"),
        "{}",
        b.text()
    );
    look_at(&mut b, "mypage/my-sign-in-error");
    b.fill("受付番号", &reference.replace('-', ""));
    b.type_into("合言葉", PASSPHRASE);
    b.press("開く");
    let text = b.text();
    assert!(text.contains(REPLY), "the reply is on the page: {text}");
    assert!(text.contains(BODY));
    assert!(!text.contains("テスト 職員") && !text.contains("center.example"));
    b.set_width(390);
    let fits = b.js_value("return document.documentElement.scrollWidth <= window.innerWidth;");
    assert_eq!(fits, json!(true), "nothing runs off a phone's screen");
    look_at(&mut b, "mypage/my-thread");
    b.press("送る");
    assert!(b.text().contains("伝えたいことを書いてください"));
    b.type_into(
        "相談員に伝えたいこと",
        "お返事ありがとうございます。私は少し眠れていません。",
    );
    b.press("送る");
    assert!(b.text().contains("お送りしました"), "{}", b.text());
    assert!(b.text().contains("私は少し眠れていません"));
    look_at(&mut b, "mypage/my-thread-sent");

    let t = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{id}"),
            Some(&c.token),
            None,
        )
        .json();
    let last = t["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "inbound");
    assert!(
        last["body_text"]
            .as_str()
            .unwrap()
            .contains("眠れていません")
    );
    assert_eq!(t["status"], "open");
    assert_eq!(t["sla_state"], "on_track");
    assert_eq!(t["urgent"], false, "nothing urgent in it");

    // Left alone on the shared computer, the page closes by itself.
    app.time.advance(ChronoDuration::minutes(31));
    b.goto(&app.url("/my"));
    assert!(
        b.text()
            .contains("しばらく操作がなかったため、ページを閉じました"),
        "{}",
        b.text()
    );
    assert!(!b.text().contains(REPLY));
    b.type_into("受付番号", &reference);
    b.type_into("合言葉", PASSPHRASE);
    b.press("開く");
    assert!(b.text().contains(REPLY));
    b.press("閉じる");
    assert!(b.text().contains("ページを閉じました"));
    b.goto(&app.url("/my"));
    assert!(b.text().contains("受付番号と、ご相談のときに決めた合言葉"));
    assert_eq!(
        mails_to(&smtp, MOTHER, 2).len(),
        2,
        "writing on the page mails her nothing"
    );
}
