//! The first page a consulter sees (issue 10, points 1–5, 18 and 20), read as a person reads
//! it: in Chromium where what the page shows is the point, over HTTP where the answer is.

use std::time::Duration;

use chrono::Duration as ChronoDuration;
use mail_parser::MessageParser;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::browser::{Browser, browser};
use crate::support::smtp_server::TestSmtpServer;
use crate::support::{Backend, TestApp, hidden_value, spawn_app, spawn_app_with};

both_backends!(
    an_untouched_form_shows_empty_fields_and_stores_nothing_for_them,
    the_form_works_without_script,
    a_refused_submission_shows_what_was_written_and_the_phone_line,
    an_urgent_consultation_names_a_line_that_answers_now,
    the_form_marks_what_is_needed_and_says_what_is_wrong_beside_it,
    posts_from_other_sites_are_refused_with_nothing_stored,
    a_form_sent_too_soon_or_tampered_with_is_not_taken,
    every_answer_carries_the_protective_headers,
    every_page_a_consulter_meets_passes_axe_at_both_widths,
);

const SUBJECT: &str = "はじめての相談";
const BODY: &str = "外に出るのがこわいです。";

fn smtp_app(
    backend: Backend,
    smtp: &TestSmtpServer,
    adjust: impl FnOnce(&mut madoguchi::config::Settings),
) -> TestApp {
    spawn_app_with(backend, |s| {
        s.smtp.transport = madoguchi::config::MailTransport::Smtp;
        s.smtp.port = smtp.port();
        adjust(s);
    })
}

/// Fills in what the form needs, by the labels a person reads, and sends it a few seconds
/// (on the test's clock) after it was served.
fn fill_in_and_send(app: &TestApp, b: &Browser, email: &str, body: &str) {
    b.type_into("メールアドレス", email);
    b.choose("ご本人");
    b.type_into("件名", SUBJECT);
    b.type_into("ご相談の内容", body);
    b.choose("ご相談の内容は、相談への対応のためだけに使い");
    app.time.advance(ChronoDuration::seconds(3));
    b.press("相談を送る");
}

fn ticket_detail(app: &TestApp) -> Value {
    let s = app.staff("s@center.example", "supervisor");
    let queue = app
        .call("GET", "/api/v1/tickets", Some(&s.token), None)
        .json();
    let id = queue["items"][0]["id"].as_i64().expect("a ticket");
    app.call(
        "GET",
        &format!("/api/v1/tickets/{id}"),
        Some(&s.token),
        None,
    )
    .json()
}

fn ticket_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use madoguchi::db::schema::tickets;
    let mut conn = app.conn();
    tickets::table.count().get_result(&mut *conn).unwrap()
}

fn text_of(mail: &[u8]) -> String {
    MessageParser::default()
        .parse(mail)
        .and_then(|m| m.body_text(0).map(|t| t.to_string()))
        .expect("a readable mail")
}

fn an_untouched_form_shows_empty_fields_and_stores_nothing_for_them(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = smtp_app(backend, &smtp, |_| {});
    let b = browser();
    b.goto(&app.url("/consult"));
    for label in [
        "メールアドレス",
        "お名前",
        "お住まいの地域",
        "件名",
        "ご相談の内容",
    ] {
        assert_eq!(b.value_of(label), "", "「{label}」 shows empty");
    }
    assert_eq!(b.value_of("ご本人の年代"), "", "no age group chosen");
    assert!(!b.text().contains("None"));

    fill_in_and_send(&app, &b, "taro@example.jp", BODY);
    let receipt = b.text();
    assert!(receipt.contains("ご相談を受け付けました"), "{receipt}");
    assert!(!receipt.contains("None"), "{receipt}");

    let t = ticket_detail(&app);
    assert!(
        receipt.contains(t["reference"].as_str().unwrap()),
        "{receipt}"
    );
    assert_eq!(
        t["consulter"],
        json!({"name": null, "email": "taro@example.jp", "relationship": "self",
               "age_group": null, "area": null}),
        "fields left alone are stored as absent"
    );
    let ack = text_of(&smtp.wait_for(1, Duration::from_secs(20))[0].data);
    assert!(ack.starts_with("ご相談いただいた方へ"), "{ack}");
    assert!(!ack.contains("None"), "{ack}");
}

fn the_form_works_without_script(backend: Backend) {
    let app = spawn_app(backend);
    let b = browser();
    b.without_script();
    b.goto(&app.url("/"));
    assert_eq!(b.path(), "/consult", "/ leads to the form");
    fill_in_and_send(&app, &b, "taro@example.jp", BODY);
    assert!(b.text().contains("ご相談を受け付けました"), "{}", b.text());
    assert_eq!(ticket_count(&app), 1);

    // Without a browser's redirect-following: a plain redirect, not an English 404.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent.get(app.url("/")).call().unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/consult");
}

fn a_refused_submission_shows_what_was_written_and_the_phone_line(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.intake.rate_limit_per_hour = 1);
    assert_eq!(
        app.post_json(
            "/api/v1/consultations",
            &crate::support::consultation("a@example.jp")
        )
        .status,
        201
    );
    let b = browser();
    b.goto(&app.url("/consult"));
    let body = "長い相談です。\n<b>太字</b> & 改行も\nそのまま。";
    fill_in_and_send(&app, &b, "taro@example.jp", body);
    let page = b.text();
    assert!(page.contains("もう一度お送りください"), "{page}");
    assert!(page.contains("まだお受けできていません"), "{page}");
    assert_eq!(
        b.value_of("お書きになった内容"),
        format!("件名：{SUBJECT}\n\n{body}"),
        "what was written, to copy"
    );
    assert!(
        page.contains("011-863-8733") && page.contains("月～金 9:30～12:00"),
        "{page}"
    );
    assert_eq!(ticket_count(&app), 1, "the refused one is not stored");
    b.follow("相談フォームに戻る");
    assert_eq!(b.path(), "/consult");

    let r = app.post_consult(&[
        ("email", "c@example.jp"),
        ("relationship", "self"),
        ("subject", "件名"),
        ("body", "<script>alert(1)</script>"),
        ("consent", "true"),
    ]);
    assert_eq!(r.status, 429);
    assert!(
        r.body.contains("<textarea id=\"kept\" readonly"),
        "{}",
        r.body
    );
    assert!(r.body.contains("&lt;script&gt;alert(1)"));
    assert!(!r.body.contains("<script>alert"));
    assert!(r.body.contains("href=\"tel:0118638733\""));
}

fn an_urgent_consultation_names_a_line_that_answers_now(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = smtp_app(backend, &smtp, |_| {});
    let b = browser();
    b.goto(&app.url("/consult"));
    fill_in_and_send(
        &app,
        &b,
        "hanako@example.jp",
        "もう生きているのがつらくて、しにたいと思ってしまいます。",
    );
    let receipt = b.text();
    assert!(receipt.contains("ご相談を受け付けました"), "{receipt}");
    for needed in [
        "よりそいホットライン",
        "0120-279-338",
        "24時間・無料",
        "119番",
        "011-863-8733",
    ] {
        assert!(
            receipt.contains(needed),
            "the urgent receipt names {needed}: {receipt}"
        );
    }
    let ack = text_of(&smtp.wait_for(1, Duration::from_secs(20))[0].data);
    assert!(
        ack.contains("よりそいホットライン 0120-279-338（24時間・無料）"),
        "{ack}"
    );
    assert!(
        ack.contains("119番") && ack.contains("011-863-8733"),
        "{ack}"
    );

    // An ordinary consultation's receipt does not.
    b.goto(&app.url("/consult"));
    fill_in_and_send(&app, &b, "taro@example.jp", BODY);
    assert!(!b.text().contains("よりそいホットライン"), "{}", b.text());

    // A centre's own list replaces the default.
    drop(b);
    let smtp = TestSmtpServer::start();
    let app = smtp_app(backend, &smtp, |s| {
        s.center.crisis_lines = vec![madoguchi::config::CrisisLine {
            name: "夜間の相談電話".into(),
            number: "0120-111-222".into(),
            hours: "毎日 17時～翌9時".into(),
        }];
    });
    let r = app.post_json(
        "/api/v1/consultations",
        &json!({"email": "x@example.jp", "relationship": "family", "subject": "娘のこと",
                "body": "娘が死にたいと言っています。", "consent": true}),
    );
    assert_eq!(r.status, 201);
    let ack = text_of(&smtp.wait_for(1, Duration::from_secs(20))[0].data);
    assert!(
        ack.contains("夜間の相談電話 0120-111-222（毎日 17時～翌9時）"),
        "{ack}"
    );
    assert!(!ack.contains("よりそい"), "{ack}");
}

fn the_form_marks_what_is_needed_and_says_what_is_wrong_beside_it(backend: Backend) {
    let app = spawn_app(backend);
    let page = app.get("/consult").body;
    for (field, label) in [
        ("email", "メールアドレス"),
        ("subject", "件名"),
        ("body", "ご相談の内容"),
    ] {
        assert!(
            page.contains(&format!(
                "<label for=\"{field}\">{label}<span class=\"required\">※必須</span></label>"
            )),
            "{label} is marked as needed"
        );
    }
    assert!(page.contains("どなたのことでのご相談ですか<span class=\"required\">※必須</span>"));
    assert!(page.contains("いずれかを選んでください。"));

    let mut b = browser();
    b.goto(&app.url("/consult"));
    b.type_into("メールアドレス", "not-an-address");
    app.time.advance(ChronoDuration::seconds(3));
    b.press("相談を送る");
    let shown = b.text();
    assert!(shown.contains("入力内容をご確認ください"), "{shown}");
    for message in [
        "メールアドレスの形式をご確認ください",
        "ご本人・ご家族・その他のいずれかを選んでください。",
        "件名を入力してください。",
        "ご相談の内容を入力してください。",
        // In the words of the consent asked for, not of something else.
        "相談への対応のためだけに使い、秘密を守ることへの同意が必要です",
    ] {
        assert!(shown.contains(message), "「{message}」 is said: {shown}");
    }
    assert!(!shown.contains("個人情報の取り扱い"), "{shown}");
    assert_eq!(
        b.value_of("メールアドレス"),
        "not-an-address",
        "typed values are kept"
    );
    let looks = b.js_value(
        "const email = document.getElementById('email');
         const error = document.getElementById('email-error');
         const summary = document.getElementById('summary');
         const s = getComputedStyle(email);
         return {
           border: [s.borderTopColor, s.borderTopWidth],
           error_below: error.getBoundingClientRect().top >= email.getBoundingClientRect().bottom,
           summary_first: summary.getBoundingClientRect().top < document.querySelector('form').getBoundingClientRect().top,
           links: [...summary.querySelectorAll('a')].map(a => a.getAttribute('href')),
           focused: document.activeElement === summary,
         };",
    );
    assert_eq!(
        looks["border"],
        json!(["rgb(161, 38, 34)", "2px"]),
        "the invalid field shows it in its border too"
    );
    assert_eq!(
        looks["error_below"], true,
        "the error stands under its field"
    );
    assert_eq!(
        looks["summary_first"], true,
        "the summary comes before the form"
    );
    assert_eq!(
        looks["links"],
        json!([
            "#email",
            "#relationship-self",
            "#subject",
            "#body",
            "#consent"
        ])
    );
    assert_eq!(looks["focused"], true, "the summary takes the focus");

    // The focus ring, as a keyboard user moves to the field.
    b.goto(&app.url("/consult"));
    b.press_tab_to("メールアドレス");
    let ring = b.js_value(
        "const s = getComputedStyle(document.activeElement);
         return [s.outlineStyle, s.outlineWidth, s.outlineColor];",
    );
    assert_eq!(ring[0], "solid", "{ring}");
    assert!(
        ring[1]
            .as_str()
            .unwrap()
            .trim_end_matches("px")
            .parse::<f64>()
            .unwrap()
            >= 2.0
    );
    let contrast = contrast_with_white(ring[2].as_str().unwrap());
    assert!(
        contrast >= 3.0,
        "focus ring contrast {contrast:.2} on white: {ring}"
    );

    // The phone number is a link to call, and stays on one line on a phone.
    b.set_width(390);
    b.goto(&app.url("/consult"));
    let tel = b.js_value(
        "return [...document.querySelectorAll('a[href^=\"tel:\"]')]
           .map(a => [a.getAttribute('href'), a.textContent, a.getClientRects().length]);",
    );
    let tel = tel.as_array().unwrap();
    assert!(!tel.is_empty());
    for link in tel {
        assert_eq!(link[0], "tel:0118638733", "{link}");
        assert_eq!(link[1], "011-863-8733", "{link}");
        assert_eq!(link[2], 1, "the number does not break across lines: {link}");
    }
}

/// WCAG contrast of an `rgb(r, g, b)` colour against white.
fn contrast_with_white(rgb: &str) -> f64 {
    let parts: Vec<f64> = rgb
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .take(3)
        .map(|p| p.trim().parse::<f64>().unwrap() / 255.0)
        .collect();
    let linear = |c: f64| {
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * linear(parts[0]) + 0.7152 * linear(parts[1]) + 0.0722 * linear(parts[2]);
    1.05 / (l + 0.05)
}

const VALID: [(&str, &str); 5] = [
    ("email", "taro@example.jp"),
    ("relationship", "self"),
    ("subject", SUBJECT),
    ("body", BODY),
    ("consent", "true"),
];

fn post_with_headers(
    app: &TestApp,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut req = app.http.post(app.url("/consult"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut r = req.send_form(fields.iter().copied()).unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

fn posts_from_other_sites_are_refused_with_nothing_stored(backend: Backend) {
    let app = spawn_app(backend);
    let token = app.form_token();
    app.time.advance(ChronoDuration::seconds(5));
    let mut fields = VALID.to_vec();
    fields.push(("form_token", &token));
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "null")],
        vec![
            ("origin", "http://127.0.0.1:1"),
            ("sec-fetch-site", "same-site"),
        ],
    ] {
        let (status, body) = post_with_headers(&app, &fields, &headers);
        assert_eq!(status, 403, "{headers:?}");
        assert!(
            body.contains("ほかのサイトのページから送られたため"),
            "{body}"
        );
        assert!(body.contains("相談フォームに戻る") && body.contains("011-863-8733"));
    }
    assert_eq!(ticket_count(&app), 0);
    // Our own page's post, as a browser sends it.
    let ours = app.address.clone();
    let (status, body) = post_with_headers(
        &app,
        &fields,
        &[("origin", &ours), ("sec-fetch-site", "same-origin")],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(ticket_count(&app), 1);
}

fn a_form_sent_too_soon_or_tampered_with_is_not_taken(backend: Backend) {
    let app = spawn_app(backend);
    let token = app.form_token();
    let with = |token: &str, honeypot: &str| {
        let mut fields = VALID.to_vec();
        fields.push(("form_token", token));
        fields.push(("homepage", honeypot));
        app.post_form("/consult", &fields)
    };
    let send_again = "もう一度「相談を送る」を押してください";

    app.time.advance(ChronoDuration::seconds(2));
    let quick = with(&token, "");
    assert_eq!(quick.status, 422);
    assert!(quick.body.contains(send_again), "{}", quick.body);
    assert!(quick.body.contains(BODY), "what was written is kept");
    assert_eq!(
        hidden_value(&quick.body, "form_token").as_deref(),
        Some(token.as_str()),
        "the token served first is kept, so waiting is enough"
    );

    app.time.advance(ChronoDuration::seconds(1));
    let (issued, tag) = token.split_once('.').unwrap();
    let older = format!("{}.{tag}", issued.parse::<i64>().unwrap() - 60);
    for (token, honeypot) in [
        (older.as_str(), ""),
        ("", ""),
        ("1764583200.00112233445566778899aabbccddeeff", ""),
        (token.as_str(), "http://spam.example"),
    ] {
        let r = with(token, honeypot);
        assert_eq!(r.status, 422, "{token:?} {honeypot:?}");
        assert!(r.body.contains(send_again));
        let renewed = hidden_value(&r.body, "form_token").unwrap();
        assert_ne!(renewed, token);
        assert_eq!(hidden_value(&r.body, "homepage").as_deref(), Some(""));
    }
    let missing = app.post_form("/consult", &VALID);
    assert_eq!(missing.status, 422);
    assert_eq!(ticket_count(&app), 0, "nothing was stored");

    let taken = with(&token, "");
    assert_eq!(taken.status, 200, "{}", taken.body);
    assert!(taken.body.contains("ご相談を受け付けました"));
    assert_eq!(ticket_count(&app), 1);
}

fn every_answer_carries_the_protective_headers(backend: Backend) {
    let app = spawn_app(backend);
    let staff = app.staff("c@center.example", "counsellor");
    let head = |path: &str, token: Option<&str>| {
        let mut req = app.http.get(app.url(path));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let r = req.call().unwrap();
        let h = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        (
            r.status().as_u16(),
            h("content-security-policy"),
            h("x-content-type-options"),
            h("referrer-policy"),
            h("cache-control"),
            h("x-frame-options"),
        )
    };
    for (path, token) in [
        ("/consult", None),
        ("/api/v1/tickets", None),
        ("/api/v1/tickets", Some(staff.token.as_str())),
        ("/api/v1/nothing-here", None),
        ("/healthz", None),
    ] {
        let (status, csp, nosniff, referrer, cache, frame) = head(path, token);
        assert!(status < 500, "{path}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(nosniff, "nosniff", "{path}");
        assert_eq!(referrer, "same-origin", "{path}");
        assert_eq!(cache, "no-store", "{path}");
        assert_eq!(frame, "DENY", "{path}");
    }
    // The receipt shows a consultation: not kept in any cache.
    let token = app.form_token();
    app.time.advance(ChronoDuration::seconds(3));
    let mut fields = VALID.to_vec();
    fields.push(("form_token", &token));
    let r = app
        .http
        .post(app.url("/consult"))
        .send_form(fields.iter().copied())
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );

    // No inline script or style anywhere: the stylesheet is ours, cached for long.
    let page = app.get("/consult").body;
    assert!(!page.contains("<script") && !page.contains("<style") && !page.contains(" style="));
    let href = page
        .split("<link rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a stylesheet link")
        .to_string();
    assert!(href.starts_with("/static/madoguchi.css?v="), "{href}");
    let css = app.http.get(app.url(&href)).call().unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(app.get("/static/nothing.js").status, 404);

    // And under that policy the page is styled: the browser loaded the stylesheet.
    let b = browser();
    b.goto(&app.url("/consult"));
    assert_eq!(
        b.js_value("return getComputedStyle(document.body).backgroundColor;"),
        "rgb(247, 246, 242)"
    );
}

fn every_page_a_consulter_meets_passes_axe_at_both_widths(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.intake.rate_limit_per_hour = 2);
    let mut b = browser();
    let suffix = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "-pg",
    };
    for width in [1280, 390] {
        b.set_width(width);
        b.goto(&app.url("/consult"));
        b.assert_accessible("consult");
        b.screenshot(&format!("consult{suffix}"));

        b.type_into("メールアドレス", "not-an-address");
        app.time.advance(ChronoDuration::seconds(3));
        b.press("相談を送る");
        b.assert_accessible("consult-errors");
        b.screenshot(&format!("consult-errors{suffix}"));

        b.goto(&app.url("/consult"));
        fill_in_and_send(
            &app,
            &b,
            "hanako@example.jp",
            "もう消えてしまいたい。死にたいです。",
        );
        assert!(b.text().contains("よりそいホットライン"));
        b.assert_accessible("receipt-urgent");
        b.screenshot(&format!("receipt-urgent{suffix}"));

        b.goto(&app.url("/consult"));
        fill_in_and_send(&app, &b, "taro@example.jp", BODY);
        assert!(b.text().contains("ご相談を受け付けました"));
        b.assert_accessible("receipt");
        b.screenshot(&format!("receipt{suffix}"));

        b.goto(&app.url("/consult"));
        fill_in_and_send(&app, &b, "taro@example.jp", BODY);
        assert!(b.text().contains("お書きになった内容"), "{}", b.text());
        b.assert_accessible("refused-429");
        b.screenshot(&format!("refused-429{suffix}"));

        // The limit counts an hour; the next width starts afresh.
        app.time.advance(ChronoDuration::minutes(61));
    }
}
