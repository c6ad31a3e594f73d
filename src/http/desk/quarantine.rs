//! 隔離メール (`/desk/quarantine`): mail that could not be taken. Supervisors read its
//! headers (as text, escaped; the body is never shown as HTML), try it again, or download the
//! raw mail as opaque bytes to look at it elsewhere.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{DeskUser, base, failed, refused, render, see_other, supervisors_only, words};
use crate::db::from_db;
use crate::db::quarantine::QuarantineRow;
use crate::desk;
use crate::domain::vocabulary::QuarantineId;
use crate::http::blocking;
use crate::http::headers::attachment_download;
use crate::intake::mail;
use crate::state::AppState;

/// A header block larger than this is cut: a person reads headers, not megabytes.
const HEADER_BYTES: usize = 64 * 1024;

/// The header lines of a raw mail, folded lines joined, as text (bytes that are not UTF-8
/// shown as �). Stops at the first empty line; the body is not read.
pub fn header_lines(raw: &[u8]) -> Vec<(String, String)> {
    let head = &raw[..raw.len().min(HEADER_BYTES)];
    let text = String::from_utf8_lossy(head);
    let mut lines: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t'])
            && let Some((_, value)) = lines.last_mut()
        {
            value.push(' ');
            value.push_str(line.trim());
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) => lines.push((name.trim().to_string(), value.trim().to_string())),
            None => lines.push((String::new(), line.to_string())),
        }
    }
    lines
}

#[derive(Serialize)]
struct Entry {
    id: i64,
    received: String,
    source: String,
    reason: String,
    retried: Option<String>,
    resolved: Option<String>,
}

fn entry(state: &AppState, r: QuarantineRow) -> Entry {
    Entry {
        id: r.id.0,
        received: words::when(state, from_db(r.received_at)),
        source: r.source,
        reason: r.reason,
        retried: r.retried_at.map(|t| words::when(state, from_db(t))),
        resolved: r.resolved_at.map(|t| words::when(state, from_db(t))),
    }
}

#[derive(Deserialize)]
pub struct ListForm {
    all: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "隔離メール: mail that could not be taken", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
    )
)]
#[get("/desk/quarantine")]
pub async fn list(
    state: web::Data<AppState>,
    user: DeskUser,
    form: web::Query<ListForm>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let all = form.all.as_deref() == Some("1");
    let actor = user.session.actor.clone();
    let rows = match blocking(&state, move |st, conn| {
        desk::quarantine::list(st, conn, &actor, all)
    })
    .await
    {
        Ok(r) => r,
        Err(e) => return failed(&state, &user, &e, "/desk"),
    };
    let entries: Vec<Entry> = rows.into_iter().map(|r| entry(&state, r)).collect();
    render(
        &state,
        "desk/quarantine.html",
        context! { entries, all, current => "quarantine", ..base(&state, Some(&user)) },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

fn outcome_words(outcome: &str) -> Option<&'static str> {
    Some(match outcome {
        "opened" => "受け付けました。新しい相談になりました。",
        "joined" => "受け付けました。これまでの相談に加わりました。",
        "duplicate" => "すでに受け付けていたメールでした。二重には登録していません。",
        "bounce" => "配信できなかった知らせとして記録しました。",
        "quarantined" => "まだ受け付けられませんでした。理由を確かめてください。",
        _ => return None,
    })
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Quarantine id")),
    responses(
        (status = 200, description = "One quarantined mail: its headers as text, retry and download", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
        (status = 404, description = "No such entry", content_type = "text/html"),
    )
)]
#[get("/desk/quarantine/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<i64>,
    shown: web::Query<Shown>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let id = QuarantineId(id.into_inner());
    let actor = user.session.actor.clone();
    let (row, raw) = match blocking(&state, move |st, conn| {
        desk::quarantine::raw(st, conn, &actor, id, "quarantine.read")
    })
    .await
    {
        Ok(found) => found,
        Err(e) => return failed(&state, &user, &e, "/desk/quarantine"),
    };
    let size = raw.len();
    render(
        &state,
        "desk/quarantine_mail.html",
        context! {
            mail => entry(&state, row),
            headers => header_lines(&raw),
            size,
            notice => shown.done.as_deref().and_then(outcome_words),
            current => "quarantine",
            ..base(&state, Some(&user))
        },
        StatusCode::OK,
    )
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Quarantine id")),
    responses(
        (status = 200, description = "The raw mail, byte for byte, as an opaque download", content_type = "application/octet-stream"),
        (status = 303, description = "Not signed in: to the sign-in page"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
        (status = 404, description = "No such entry", content_type = "text/html"),
    )
)]
#[get("/desk/quarantine/{id}/raw")]
pub async fn download(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<i64>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let id = QuarantineId(id.into_inner());
    let actor = user.session.actor.clone();
    match blocking(&state, move |st, conn| {
        desk::quarantine::raw(st, conn, &actor, id, "quarantine.download")
    })
    .await
    {
        Ok((_, content)) => attachment_download(crate::db::queue::AttachmentFile {
            filename: format!("quarantine-{id}.eml"),
            content,
        }),
        Err(e) => failed(&state, &user, &e, "/desk/quarantine"),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RetryForm {
    csrf: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Quarantine id")),
    responses(
        (status = 303, description = "Tried; back to the entry with the outcome"),
        (status = 403, description = "Not a supervisor, or the form's token is missing", content_type = "text/html"),
        (status = 404, description = "No such entry", content_type = "text/html"),
    )
)]
#[post("/desk/quarantine/{id}/retry")]
pub async fn retry(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<i64>,
    form: web::Form<RetryForm>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let raw_id = id.into_inner();
    let back = format!("/desk/quarantine/{raw_id}");
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, &back);
    }
    let id = QuarantineId(raw_id);
    let actor = user.session.actor.clone();
    match blocking(&state, move |st, conn| mail::retry_by(st, conn, &actor, id)).await {
        Ok(outcome) => see_other(&format!("{back}?done={}", outcome.as_str())),
        Err(e) => failed(&state, &user, &e, &back),
    }
}

#[cfg(test)]
mod tests {
    use super::header_lines;

    #[test]
    fn headers_are_unfolded_and_the_body_left_alone() {
        let raw = b"Subject: =?UTF-8?B?5Y+X?=\r\n  continued\r\nFrom: a@example.jp\r\nbroken line\r\n\r\n<script>body</script>\r\nX-Not: header\r\n";
        assert_eq!(
            header_lines(raw),
            vec![
                ("Subject".into(), "=?UTF-8?B?5Y+X?= continued".into()),
                ("From".into(), "a@example.jp".into()),
                (String::new(), "broken line".into()),
            ]
        );
        assert_eq!(
            header_lines(b"\xff\xfe: x\n"),
            vec![("\u{fffd}\u{fffd}".into(), "x".into())]
        );
    }
}
