//! The reports as CSV for Excel (issue 13, point 6), one document per report for the API and
//! the console alike: Japanese headings, times as `YYYY-MM-DD HH:MM` in the centre's zone,
//! flags as 〇 or empty, the cells made safe by `domain::csv`.

use actix_web::HttpResponse;
use actix_web::http::header::{
    Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use chrono::{DateTime, Utc};

use super::desk::words;
use super::error::ApiError;
use crate::desk::reports::OverdueLine;
use crate::domain::csv;
use crate::domain::sla::{self, GroupBy};
use crate::state::AppState;

/// `format=json` (or none) or `format=csv`; anything else is 422 naming the field.
pub fn wants_csv(format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(ApiError::field("format", "invalid")),
    }
}

/// A CSV answer, downloaded under `name`.
pub fn download(name: &str, body: String) -> HttpResponse {
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(name.to_string()),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: name.as_bytes().to_vec(),
            }),
        ],
    };
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(disposition)
        .body(body)
}

fn local(state: &AppState, t: DateTime<Utc>) -> String {
    csv::time(&t.with_timezone(&state.rules.tz))
}

fn stamp(state: &AppState, t: DateTime<Utc>) -> String {
    t.with_timezone(&state.rules.tz)
        .format("%Y%m%d-%H%M")
        .to_string()
}

pub fn overdue_name(state: &AppState, at: DateTime<Utc>) -> String {
    format!("overdue-{}.csv", stamp(state, at))
}

/// The overdue report's columns, in the JSON's order (CONTRACT §4: "the same columns").
pub const OVERDUE_HEADINGS: [&str; 9] = [
    "相談ID",
    "受付番号",
    "件名",
    "担当",
    "返信待ちの開始",
    "返信期限",
    "超過時間",
    "緊急",
    "状態",
];

pub fn overdue(state: &AppState, lines: &[OverdueLine]) -> String {
    let rows = lines.iter().map(|l| {
        vec![
            l.id.to_string(),
            l.reference.clone(),
            l.subject.clone(),
            l.assignee
                .as_ref()
                .map_or(String::new(), |(_, name)| name.clone()),
            local(state, l.clock_started_at),
            local(state, l.reply_due_at),
            l.overdue_hours.to_string(),
            csv::flag(l.urgent),
            words::status(l.status).to_string(),
        ]
    });
    csv::document(&OVERDUE_HEADINGS, rows)
}

pub fn sla_name(state: &AppState, from: DateTime<Utc>, to: DateTime<Utc>, by: GroupBy) -> String {
    let by = match by {
        GroupBy::Month => "month",
        GroupBy::Counsellor => "counsellor",
    };
    format!("sla-{by}-{}-{}.csv", stamp(state, from), stamp(state, to))
}

/// A row's key as staff read it: the month, or the counsellor (担当なし for none).
pub fn sla_key(by: GroupBy, key: &str) -> String {
    match by {
        GroupBy::Month => key.to_string(),
        GroupBy::Counsellor if key == "unassigned" => "担当なし".to_string(),
        GroupBy::Counsellor => key.to_string(),
    }
}

pub fn sla_headings(by: GroupBy) -> [&'static str; 8] {
    [
        match by {
            GroupBy::Month => "月",
            GroupBy::Counsellor => "担当",
        },
        "対象件数",
        "期限内に返信",
        "期限超過",
        "期限前で未返信",
        "達成率（%）",
        "返信までの時間の中央値（時間）",
        "返信までの時間の90パーセンタイル（時間）",
    ]
}

pub fn sla(by: GroupBy, rows: &[sla::Row]) -> String {
    let figure = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let lines = rows.iter().map(|r| {
        vec![
            sla_key(by, &r.key),
            r.due.to_string(),
            r.met.to_string(),
            r.breached.to_string(),
            r.still_open.to_string(),
            figure(r.compliance_pct),
            figure(r.median_reply_hours),
            figure(r.p90_reply_hours),
        ]
    });
    csv::document(&sla_headings(by), lines)
}
