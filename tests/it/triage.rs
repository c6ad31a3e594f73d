//! Urgent-risk triage end to end: a consultation that speaks of dying reaches a person at once.

use chrono::Duration as ChronoDuration;
use diesel::prelude::*;
use madoguchi::db::schema::outbound_mail;
use madoguchi::domain::vocabulary::TicketId;
use madoguchi::intake::Outcome;
use madoguchi::intake::mail;
use mail_parser::MessageParser;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, TestApp, consultation, spawn_app, spawn_app_with};

both_backends!(
    a_consultation_speaking_of_dying_is_urgent_at_once,
    a_follow_up_by_mail_makes_a_ticket_urgent_but_quotes_do_not,
    staff_confirm_or_clear_and_a_cleared_text_does_not_flag_again,
    the_urgent_report_shows_the_time_to_the_first_reply,
    gathering_means_and_a_quoted_farewell_are_urgent_but_their_harmless_twins_are_not,
);

fn consult(app: &TestApp, email: &str, body: &str) -> i64 {
    let mut c = consultation(email);
    c["body"] = json!(body);
    let r = app.post_json("/api/v1/consultations", &c);
    assert_eq!(r.status, 201, "{}", r.body);
    let reference = r.json()["reference"].as_str().unwrap().to_string();
    let mut conn = app.conn();
    madoguchi::db::tickets::by_reference(&mut conn, &reference)
        .unwrap()
        .unwrap()
        .id
        .0
}

fn mails(app: &TestApp, kind: &str) -> Vec<(String, Vec<u8>)> {
    let mut conn = app.conn();
    outbound_mail::table
        .filter(outbound_mail::kind.eq(kind))
        .order(outbound_mail::id)
        .select((outbound_mail::to_address, outbound_mail::raw))
        .load(&mut *conn)
        .unwrap()
}

fn body_of(raw: &[u8]) -> String {
    MessageParser::default()
        .parse(raw)
        .unwrap()
        .body_text(0)
        .unwrap()
        .to_string()
}

fn a_consultation_speaking_of_dying_is_urgent_at_once(backend: Backend) {
    let app = spawn_app(backend);
    let s = app.staff("s@center.example", "supervisor");
    app.staff("s2@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    let calm = consult(&app, "calm@example.jp", "息子が部屋から出てきません。");
    let denied = consult(
        &app,
        "denied@example.jp",
        "死にたいとは思いませんが、毎日がつらいです。",
    );
    app.time.advance(ChronoDuration::minutes(1));
    let urgent = consult(
        &app,
        "hanako@example.jp",
        "もう生きているのがつらくて、しにたいと思ってしまいます。",
    );

    let queue = app
        .call("GET", "/api/v1/tickets", Some(&c.token), None)
        .json();
    assert_eq!(queue["items"][0]["id"], urgent, "urgent sorts first");
    assert_eq!(queue["items"][0]["urgent"], true);
    assert_eq!(
        queue["items"][0]["urgent_reasons"],
        json!(["suicidal_ideation"])
    );
    let flags: Vec<(i64, bool)> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_i64().unwrap(), t["urgent"].as_bool().unwrap()))
        .collect();
    assert!(
        flags.contains(&(calm, false)) && flags.contains(&(denied, false)),
        "{flags:?}"
    );

    let alerts = mails(&app, "alert_urgent");
    assert_eq!(alerts.len(), 2, "every supervisor at once");
    assert_eq!(alerts[0].0, "s@center.example");
    let alert = MessageParser::default().parse(&alerts[0].1).unwrap();
    let text = alert.body_text(0).unwrap().to_string();
    let reference = queue["items"][0]["reference"].as_str().unwrap();
    assert!(alert.subject().unwrap().contains(reference));
    assert!(text.contains("希死念慮"), "{text}");
    let link = format!(
        "{}/desk/tickets/{urgent}",
        app.state.settings.server.public_base_url
    );
    assert!(
        text.lines().any(|l| l.trim() == link),
        "the console's page, on a line of its own: {text}"
    );
    assert!(
        !text.contains("しにたい") && !text.contains("つらくて"),
        "never the text"
    );
    assert_eq!(
        alert.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );

    let acks = mails(&app, "acknowledgement");
    let urgent_ack = body_of(&acks[2].1);
    assert!(
        urgent_ack.contains("119番") && urgent_ack.contains("110番"),
        "{urgent_ack}"
    );
    assert!(urgent_ack.contains("011-863-8733"));
    assert!(
        !body_of(&acks[0].1).contains("119番"),
        "only the urgent one says where to call now"
    );
    let _ = s;
}

fn a_follow_up_by_mail_makes_a_ticket_urgent_but_quotes_do_not(backend: Backend) {
    let app = spawn_app(backend);
    let c = app.staff("c@center.example", "counsellor");
    let ticket = consult(&app, "taro@example.jp", "外に出られません。");
    app.call(
        "POST",
        &format!("/api/v1/tickets/{ticket}/replies"),
        Some(&c.token),
        Some(&json!({"body": "「死にたい」と感じることはありますか。"})),
    );
    let reply_id: String = {
        let mut conn = app.conn();
        outbound_mail::table
            .filter(outbound_mail::kind.eq("reply"))
            .select(outbound_mail::rfc_message_id)
            .first(&mut *conn)
            .unwrap()
    };
    let answer = |id: &str, body: &str| {
        format!(
            "From: taro@example.jp\r\nTo: soudan@example.org\r\nSubject: Re: reply\r\nMessage-ID: <{id}>\r\n\
             In-Reply-To: <{reply_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
        )
        .into_bytes()
    };
    let mut conn = app.conn();
    let quoted = answer(
        "a1@example.jp",
        "ありがとうございます。大丈夫です。\r\n> 「死にたい」と感じることはありますか。",
    );
    assert_eq!(
        mail::take(&app.state, &mut conn, &quoted, "test").unwrap(),
        Outcome::Joined {
            ticket_id: TicketId(ticket)
        }
    );
    drop(conn);
    let t = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{ticket}"),
            Some(&c.token),
            None,
        )
        .json();
    assert_eq!(t["urgent"], false, "our own words quoted back do not flag");

    let mut conn = app.conn();
    let harm = answer("a2@example.jp", "昨日またリスカしてしまいました。");
    assert_eq!(
        mail::take(&app.state, &mut conn, &harm, "test").unwrap(),
        Outcome::Joined {
            ticket_id: TicketId(ticket)
        }
    );
    drop(conn);
    let t = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{ticket}"),
            Some(&c.token),
            None,
        )
        .json();
    assert_eq!(t["urgent"], true);
    assert_eq!(t["urgent_reasons"], json!(["self_harm"]));
}

fn staff_confirm_or_clear_and_a_cleared_text_does_not_flag_again(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.intake.rate_limit_per_hour = 0);
    let c = app.staff("c@center.example", "counsellor");
    let s = app.staff("s@center.example", "supervisor");
    let text = "ゲームの中で死にたいって言ってるキャラがいて笑いました。";
    let ticket = consult(&app, "a@example.jp", text);
    let t = format!("/api/v1/tickets/{ticket}");
    assert_eq!(
        app.call("GET", &t, Some(&c.token), None).json()["urgent"],
        true,
        "when in doubt, flag"
    );
    let decide = |decision: &str, reason: &str| {
        app.call(
            "POST",
            &format!("{t}/triage"),
            Some(&c.token),
            Some(&json!({"decision": decision, "reason": reason})),
        )
        .status
    };
    assert_eq!(decide("maybe", "x"), 422);
    assert_eq!(decide("clear", ""), 422, "a reason is required");
    assert_eq!(decide("confirm", "読んで確認した"), 204);
    assert_eq!(
        app.call("GET", &t, Some(&c.token), None).json()["urgent"],
        true
    );
    assert_eq!(decide("clear", "ゲームの話で、本人の気持ちではない"), 204);
    assert_eq!(
        app.call("GET", &t, Some(&c.token), None).json()["urgent"],
        false
    );

    // The same words again on that ticket (a resent mail) do not raise it again.
    let raw = |id: &str, body: &str| -> Vec<u8> {
        let reference = app.call("GET", &t, Some(&c.token), None).json()["reference"]
            .as_str()
            .unwrap()
            .to_string();
        format!(
            "From: a@example.jp\r\nTo: soudan@example.org\r\nSubject: [#{reference}]\r\nMessage-ID: <{id}>\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
        ).into_bytes()
    };
    let mut conn = app.conn();
    let again = raw("again@example.jp", text);
    assert_eq!(
        mail::take(&app.state, &mut conn, &again, "test").unwrap(),
        Outcome::Joined {
            ticket_id: TicketId(ticket)
        }
    );
    drop(conn);
    assert_eq!(
        app.call("GET", &t, Some(&c.token), None).json()["urgent"],
        false
    );
    let mut conn = app.conn();
    let new_words = raw("new@example.jp", "本当はもう消えたいです。");
    mail::take(&app.state, &mut conn, &new_words, "test").unwrap();
    drop(conn);
    assert_eq!(
        app.call("GET", &t, Some(&c.token), None).json()["urgent"],
        true,
        "new words flag anew"
    );

    let trail = app
        .call("GET", &format!("{t}/audit"), Some(&s.token), None)
        .json();
    let decisions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "ticket.triage")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(decisions.len(), 2);
    assert!(decisions[1].starts_with("decision=clear"));
    assert!(
        !trail.to_string().contains("ゲームの話"),
        "the reason's text stays out of the audit"
    );
}

fn the_urgent_report_shows_the_time_to_the_first_reply(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.intake.rate_limit_per_hour = 0);
    let c = app.staff("c@center.example", "counsellor");
    let s = app.staff("s@center.example", "supervisor");
    let answered = consult(&app, "a@example.jp", "死にたい。");
    let waiting = consult(&app, "b@example.jp", "家で父に殴られています。");
    consult(&app, "c@example.jp", "相談です。");
    app.time.advance(ChronoDuration::minutes(40));
    app.call(
        "POST",
        &format!("/api/v1/tickets/{answered}/replies"),
        Some(&c.token),
        Some(&json!({"body": "お電話ください。"})),
    );
    assert_eq!(
        app.call("GET", "/api/v1/reports/urgent", Some(&c.token), None)
            .status,
        403
    );
    let r = app.call("GET", "/api/v1/reports/urgent", Some(&s.token), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let report = r.json();
    assert_eq!(report["count"], 2);
    assert_eq!(report["unanswered"], 1);
    assert_eq!(report["median_minutes_to_first_reply"], 40.0);
    let items = report["items"].as_array().unwrap();
    assert_eq!(items[0]["ticket_id"], answered);
    assert_eq!(items[0]["minutes_to_first_reply"], 40);
    assert_eq!(items[1]["ticket_id"], waiting);
    assert_eq!(items[1]["categories"], json!(["violence_at_home"]));
    assert_eq!(items[1]["first_reply_at"], Value::Null);
    let bad = app.call(
        "GET",
        "/api/v1/reports/urgent?from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z",
        Some(&s.token),
        None,
    );
    assert_eq!(bad.status, 422);
}

/// Issue 10, point 22: two of the kinds the lists did not know, end to end through the API.
fn gathering_means_and_a_quoted_farewell_are_urgent_but_their_harmless_twins_are_not(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| s.intake.rate_limit_per_hour = 0);
    app.staff("s@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    let means = consult(
        &app,
        "a@example.jp",
        "息子のことでご相談します。市販の睡眠薬をあちこちの薬局で買い集めて、机の奥にため込んでいるようです。何に使うのか聞けずにいます。",
    );
    let farewell = consult(
        &app,
        "b@example.jp",
        "一人暮らしの娘から、夜中に「今までありがとう。さようなら」とLINEが来ました。それから既読がつかず、電話にも出ません。",
    );
    let camping = consult(
        &app,
        "c@example.jp",
        "夫と息子が週末にキャンプへ行くので、テント用のロープと炭を買いました。息子が外に出るのは久しぶりです。",
    );
    let see_you = consult(
        &app,
        "d@example.jp",
        "娘から「バイバイ、また明日」とLINEが来ました。最近は毎日やりとりができています。",
    );
    let ticket = |id: i64| app.ticket(&c.token, id);
    let t = ticket(means);
    assert_eq!(t["urgent"], true, "gathering means");
    assert_eq!(t["urgent_reasons"], json!(["suicidal_ideation"]));
    let t = ticket(farewell);
    assert_eq!(t["urgent"], true, "a quoted farewell, then no contact");
    assert_eq!(
        t["urgent_reasons"],
        json!(["suicidal_ideation", "emergency"])
    );
    for id in [camping, see_you] {
        let t = ticket(id);
        assert_eq!(t["urgent"], false, "{}", t["reference"]);
        assert_eq!(t["urgent_reasons"], json!([]));
    }

    // The supervisor is told about the two, with the categories and never the text.
    let alerts = mails(&app, "alert_urgent");
    assert_eq!(alerts.len(), 2, "one alert per urgent consultation");
    let texts: Vec<String> = alerts.iter().map(|(_, raw)| body_of(raw)).collect();
    assert!(texts.iter().any(|t| t.contains("緊急")), "{texts:?}");
    assert!(
        texts
            .iter()
            .all(|t| t.contains("希死念慮") && !t.contains("睡眠薬") && !t.contains("さようなら")),
        "{texts:?}"
    );
    // Only the urgent consulters are given the phone line and 119/110 in their acknowledgement.
    let acks = mails(&app, "acknowledgement");
    assert_eq!(acks.len(), 4);
    let says_where_to_call: Vec<(String, bool)> = acks
        .iter()
        .map(|(to, raw)| (to.clone(), body_of(raw).contains("119番")))
        .collect();
    assert_eq!(
        says_where_to_call,
        vec![
            ("a@example.jp".to_owned(), true),
            ("b@example.jp".to_owned(), true),
            ("c@example.jp".to_owned(), false),
            ("d@example.jp".to_owned(), false),
        ]
    );
}
