//! The mail a consulter gets, as it arrives at a real SMTP server (issue 10, points 7, 12,
//! 13, 18 and 21): whose name it greets, which addresses it reaches, and its headers.

use std::time::Duration;

use madoguchi::config::MailTransport;
use madoguchi::intake::Outcome;
use madoguchi::intake::mail;
use mail_parser::MessageParser;
use serde_json::json;

use crate::both_backends;
use crate::support::smtp_server::{ReceivedMail, TestSmtpServer};
use crate::support::{Backend, TestApp, base64, consultation, spawn_app_with};

both_backends!(
    a_later_submission_with_the_same_address_never_renames_the_consulter,
    a_japanese_carrier_address_is_accepted_and_answered,
    every_mail_we_send_says_mime_version_1_0,
    the_acknowledgement_cap_ignores_letter_case,
    odd_inbound_message_ids_are_not_copied_into_our_headers,
);

const CARRIER: &str = "taro..yamada.@docomo.ne.jp";

fn raw_text(mail: &ReceivedMail) -> String {
    String::from_utf8_lossy(&mail.data).into_owned()
}

/// The value of the first header `name` in a raw mail, unfolded.
fn header(mail: &ReceivedMail, name: &str) -> Option<String> {
    let raw = raw_text(mail);
    let head = raw.split("\r\n\r\n").next().unwrap_or_default().to_string();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

fn a_japanese_carrier_address_is_accepted_and_answered(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app_with_smtp(backend, &smtp);
    let c = app.staff("c@center.example", "counsellor");
    let receipt = app.post_consult(&[
        ("email", CARRIER),
        ("relationship", "self"),
        ("subject", "はじめての相談"),
        ("body", "話を聞いてほしいです。"),
        ("consent", "true"),
    ]);
    assert_eq!(receipt.status, 200, "{}", receipt.body);
    let ack = arrived(&smtp, 1).remove(0);
    // RFC 5321 has no such Dot-string: the local part goes quoted, envelope and header.
    assert_eq!(ack.to, vec![format!("\"taro..yamada.\"@docomo.ne.jp")]);
    assert_eq!(
        header(&ack, "To").as_deref(),
        Some("\"taro..yamada.\"@docomo.ne.jp")
    );
    assert!(text(&ack).contains("受付番号"), "{}", text(&ack));

    let r = app.post_json("/api/v1/consultations", &consultation(CARRIER));
    assert_eq!(r.status, 201, "{}", r.body);
    let id = app.new_ticket(CARRIER);
    let detail = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{id}"),
            Some(&c.token),
            None,
        )
        .json();
    assert_eq!(detail["consulter"]["email"], CARRIER, "stored as given");
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/replies"),
        Some(&c.token),
        Some(&json!({"body": "お返事です。"})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let mails = arrived(&smtp, 4);
    assert!(
        mails
            .iter()
            .all(|m| m.to == vec!["\"taro..yamada.\"@docomo.ne.jp".to_string()]),
        "every mail reaches the carrier address"
    );
    let detail = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{id}"),
            Some(&c.token),
            None,
        )
        .json();
    let deliveries: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["delivery"]["status"].as_str())
        .collect();
    assert!(!deliveries.contains(&"failed"), "{deliveries:?}");

    // By mail too (another such address: this one had its three acknowledgements today).
    let raw = "From: .hanako..@ezweb.ne.jp\r\nTo: soudan@example.org\r\nSubject: soudan\r\n\
               Message-ID: <carrier@docomo.ne.jp>\r\nContent-Type: text/plain; charset=UTF-8\r\n\
               \r\nhello\r\n";
    let mut conn = app.conn();
    let outcome = mail::take(&app.state, &mut conn, raw.as_bytes(), "test").unwrap();
    drop(conn);
    assert!(
        matches!(
            outcome,
            Outcome::Opened {
                acknowledged: true,
                ..
            }
        ),
        "{outcome:?}"
    );
    let last = arrived(&smtp, 5).pop().unwrap();
    assert_eq!(last.to, vec!["\".hanako..\"@ezweb.ne.jp".to_string()]);
}

fn every_mail_we_send_says_mime_version_1_0(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app_with_smtp(backend, &smtp);
    let c = app.staff("c@center.example", "counsellor");
    app.add_staff("s@center.example", "supervisor");
    let mut urgent = consultation("hanako@example.jp");
    urgent["body"] = json!("もう死にたいと毎日思っています。");
    let r = app.post_json("/api/v1/consultations", &urgent);
    assert_eq!(r.status, 201, "{}", r.body);
    let id = app.new_ticket("jiro@example.jp");
    app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/replies"),
        Some(&c.token),
        Some(&json!({"body": "お返事です。"})),
    );
    let mails = arrived(&smtp, 4);
    let mut kinds: Vec<String> = Vec::new();
    for m in &mails {
        assert_eq!(
            header(m, "MIME-Version").as_deref(),
            Some("1.0"),
            "{}",
            raw_text(m)
        );
        kinds.push(m.to[0].clone());
    }
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            "hanako@example.jp",
            "jiro@example.jp",
            "jiro@example.jp",
            "s@center.example"
        ],
        "acknowledgements, the alert and the reply"
    );
}

fn app_with_smtp(backend: Backend, smtp: &TestSmtpServer) -> TestApp {
    let port = smtp.port();
    spawn_app_with(backend, move |s| {
        s.smtp.transport = MailTransport::Smtp;
        s.smtp.port = port;
    })
}

/// The mails that arrived, waiting until there are `n`.
fn arrived(smtp: &TestSmtpServer, n: usize) -> Vec<ReceivedMail> {
    let got = smtp.wait_for(n, Duration::from_secs(30));
    assert!(got.len() >= n, "only {} of {n} mails arrived", got.len());
    got
}

fn text(mail: &ReceivedMail) -> String {
    MessageParser::default()
        .parse(&mail.data)
        .unwrap()
        .body_text(0)
        .unwrap()
        .to_string()
}

fn a_later_submission_with_the_same_address_never_renames_the_consulter(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app_with_smtp(backend, &smtp);
    let c = app.staff("c@center.example", "counsellor");
    let victim = app.new_ticket("victim@example.jp");
    // Someone else uses the victim's address, with a name of their own over two lines.
    let mut attack = consultation("victim@example.jp");
    attack["name"] = json!("攻撃者\r\nBcc: x@evil.example");
    let r = app.post_json("/api/v1/consultations", &attack);
    assert_eq!(r.status, 201, "{}", r.body);
    // And by mail, from the same address with yet another name.
    let raw = format!(
        "From: =?UTF-8?B?{}?= <victim@example.jp>\r\nTo: soudan@example.org\r\n\
         Subject: hello\r\nMessage-ID: <attack@evil.example>\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\nhello\r\n",
        base64("なりすまし".as_bytes())
    );
    let mut conn = app.conn();
    let by_mail = mail::take(&app.state, &mut conn, raw.as_bytes(), "test").unwrap();
    drop(conn);
    assert!(matches!(by_mail, Outcome::Opened { .. }), "{by_mail:?}");
    arrived(&smtp, 3);

    let detail = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{victim}"),
            Some(&c.token),
            None,
        )
        .json();
    assert_eq!(detail["consulter"]["name"], "山田 花子");
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{victim}/replies"),
        Some(&c.token),
        Some(&json!({"body": "お返事をお送りします。"})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let reply = arrived(&smtp, 4).pop().unwrap();
    let body = text(&reply);
    assert!(body.starts_with("山田 花子 様"), "{body}");
    assert!(
        !body.contains("攻撃者") && !body.contains("なりすまし"),
        "{body}"
    );

    // The other tickets keep the names given with them, on one line.
    let queue = app
        .call("GET", "/api/v1/tickets?limit=10", Some(&c.token), None)
        .json();
    let mut names: Vec<String> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let id = t["id"].as_i64().unwrap();
            app.call(
                "GET",
                &format!("/api/v1/tickets/{id}"),
                Some(&c.token),
                None,
            )
            .json()["consulter"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["なりすまし", "山田 花子", "攻撃者 Bcc: x@evil.example"]
    );
}

fn the_acknowledgement_cap_ignores_letter_case(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app_with_smtp(backend, &smtp);
    for to in [
        "Victim@example.jp",
        "vIctim@example.jp",
        "viCtim@EXAMPLE.jp",
        "VICTIM@example.jp",
        "victim@example.jp",
        "other@example.jp",
    ] {
        let r = app.post_json("/api/v1/consultations", &consultation(to));
        assert_eq!(r.status, 201, "{}", r.body);
    }
    arrived(&smtp, 4);
    std::thread::sleep(Duration::from_millis(1500));
    let mut to: Vec<String> = smtp
        .received()
        .iter()
        .map(|m| m.to[0].to_ascii_lowercase())
        .collect();
    to.sort();
    assert_eq!(
        to,
        vec![
            "other@example.jp",
            "victim@example.jp",
            "victim@example.jp",
            "victim@example.jp"
        ],
        "one cap of 3 a day for every spelling of the address"
    );
}

fn odd_inbound_message_ids_are_not_copied_into_our_headers(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app_with_smtp(backend, &smtp);
    let c = app.staff("c@center.example", "counsellor");
    let first = "From: hanako@example.jp\r\nTo: soudan@example.org\r\nSubject: soudan\r\n\
                 Message-ID: <odd id with spaces@example.jp>\r\n\
                 Content-Type: text/plain; charset=UTF-8\r\n\r\nhello\r\n";
    let mut conn = app.conn();
    let outcome = mail::take(&app.state, &mut conn, first.as_bytes(), "test").unwrap();
    drop(conn);
    let Outcome::Opened { ticket_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let ack = arrived(&smtp, 1).remove(0);
    for name in ["In-Reply-To", "References"] {
        let value = header(&ack, name).unwrap_or_default();
        assert!(!value.contains("odd"), "{name}: {value}");
    }
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{}/replies", ticket_id.0),
        Some(&c.token),
        Some(&json!({"body": "お返事です。"})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let reply = arrived(&smtp, 2).pop().unwrap();
    let in_reply_to = header(&reply, "In-Reply-To").unwrap_or_default();
    let references = header(&reply, "References").unwrap_or_default();
    assert!(
        !in_reply_to.contains("odd") && !references.contains("odd"),
        "{references}"
    );
    // Still threaded: to the acknowledgement, the one id of the thread safe to name.
    let ack_id = header(&ack, "Message-ID").unwrap();
    assert_eq!(in_reply_to, ack_id);
    assert!(references.contains(&ack_id), "{references}");
}
