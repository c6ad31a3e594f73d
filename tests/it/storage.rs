//! How a long mail is kept: byte for byte on both databases, and on PostgreSQL compressed
//! with lz4 once it leaves the row (pglz, the default, cost a tenth of the server's time
//! storing a mail and its acknowledgement).

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use madoguchi::db::schema::{messages, outbound_mail};
use madoguchi::intake::{Outcome, mail};

use crate::both_backends;
use crate::support::{Backend, base64, spawn_app};

both_backends!(a_long_mail_and_its_acknowledgement_are_kept_byte_for_byte);

#[derive(QueryableByName)]
struct Method {
    #[diesel(sql_type = Nullable<Text>)]
    method: Option<String>,
}

fn a_long_mail_and_its_acknowledgement_are_kept_byte_for_byte(backend: Backend) {
    let app = spawn_app(backend);
    let body =
        "息子が部屋から出てこなくなって三年になります。どこに相談したらよいのか分かりません。\r\n"
            .repeat(200);
    let raw = format!(
        "From: =?UTF-8?B?{}?= <hanako@example.jp>\r\nTo: soudan@example.org\r\n\
         Subject: =?UTF-8?B?{}?=\r\nMessage-ID: <long.1@example.jp>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}",
        base64("山田 花子".as_bytes()),
        base64("息子のことで".as_bytes()),
    )
    .into_bytes();
    assert!(raw.len() > 20_000);
    let mut conn = app.conn();
    let Outcome::Opened { ticket_id, .. } =
        mail::take(&app.state, &mut conn, &raw, "test").expect("stored")
    else {
        panic!("the mail opened no consultation");
    };
    let (text, kept): (String, Option<Vec<u8>>) = messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .filter(messages::kind.eq("inbound"))
        .select((messages::body_text, messages::raw_mime))
        .first(&mut *conn)
        .unwrap();
    assert_eq!(
        kept.as_deref(),
        Some(raw.as_slice()),
        "the mail as received"
    );
    assert_eq!(text.trim_end(), body.replace("\r\n", "\n").trim_end());
    let ack: Vec<u8> = outbound_mail::table
        .filter(outbound_mail::ticket_id.eq(ticket_id))
        .select(outbound_mail::raw)
        .first(&mut *conn)
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ack).contains("Subject:"),
        "the acknowledgement is there"
    );
    if backend == Backend::Postgres {
        for (table, column) in [
            ("messages", "raw_mime"),
            ("messages", "body_text"),
            ("outbound_mail", "raw"),
        ] {
            let row: Method = diesel::sql_query(format!(
                "SELECT pg_column_compression({column})::text AS method FROM {table} \
                 WHERE ticket_id = {}",
                ticket_id.0
            ))
            .get_result(&mut *conn)
            .unwrap();
            if table == "outbound_mail" && row.method.is_none() {
                // An acknowledgement is short: it may stay in its row, uncompressed.
                continue;
            }
            assert_eq!(row.method.as_deref(), Some("lz4"), "{table}.{column}");
        }
    }
}
