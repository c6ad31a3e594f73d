//! 緊急対応 (`/desk/urgent`): urgent-risk flags with the time to the first reply by a person,
//! the figures of `desk::reports::urgent` (as `/api/v1/reports/urgent`), in words.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use chrono::Duration;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::reports::{date_field, local_date, unreadable};
use super::{DeskUser, base, failed, render, supervisors_only, words};
use crate::desk;
use crate::http::blocking;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct UrgentForm {
    /// `YYYY-MM-DD`, the first day counted.
    from: Option<String>,
    /// `YYYY-MM-DD`, the last day counted.
    to: Option<String>,
}

fn flag_state(s: &str) -> &'static str {
    match s {
        "confirmed" => "緊急と確認済み",
        "cleared" => "緊急ではないと判断",
        _ => "まだ確認していません",
    }
}

/// `1時間5分`, `12分`.
fn duration_words(minutes: i64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    if h > 0 {
        format!("{h}時間{m}分")
    } else {
        format!("{m}分")
    }
}

#[derive(Serialize)]
struct UrgentShown {
    id: i64,
    reference: String,
    reasons: Vec<&'static str>,
    state: &'static str,
    flagged: String,
    first_reply: Option<String>,
    waited: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "緊急対応: urgent flags with the time to the first reply by a person", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
        (status = 422, description = "The dates cannot be read", content_type = "text/html"),
    )
)]
#[get("/desk/urgent")]
pub async fn urgent(
    state: web::Data<AppState>,
    user: DeskUser,
    form: web::Query<UrgentForm>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let (Ok(from), Ok(last)) = (
        date_field(&state, form.from.as_deref()),
        date_field(&state, form.to.as_deref()),
    ) else {
        return unreadable(&state, &user, "/desk/urgent");
    };
    // As the API: up to now, the 30 days before; a last day chosen counts whole.
    let to = last.map_or_else(|| state.time.now(), |l| l + Duration::days(1));
    let from = from.unwrap_or(to - Duration::days(30));
    if from >= to {
        return unreadable(&state, &user, "/desk/urgent");
    }
    let actor = user.session.actor.clone();
    let figures = match blocking(&state, move |st, conn| {
        desk::reports::urgent(st, conn, &actor, from, to)
    })
    .await
    {
        Ok(f) => f,
        Err(e) => return failed(&state, &user, &e, "/desk"),
    };
    let lines: Vec<UrgentShown> = figures
        .lines
        .iter()
        .map(|l| UrgentShown {
            id: l.ticket_id.0,
            reference: l.reference.clone(),
            reasons: words::urgent_reasons(Some(&l.categories.join(","))),
            state: flag_state(&l.state),
            flagged: words::when(&state, l.flagged_at),
            first_reply: l.first_reply_at.map(|t| words::when(&state, t)),
            waited: l.minutes_to_first_reply.map(duration_words),
        })
        .collect();
    let tz = state.rules.tz;
    render(
        &state,
        "desk/urgent.html",
        context! {
            lines,
            unanswered => figures.unanswered,
            median => figures.median_minutes_to_first_reply.map(|m| duration_words(m.round() as i64)),
            window => format!(
                "{}から{}まで",
                words::when(&state, from),
                words::when(&state, to),
            ),
            from_value => local_date(&state, from).format("%Y-%m-%d").to_string(),
            to_value => (to - Duration::seconds(1)).with_timezone(&tz).date_naive().format("%Y-%m-%d").to_string(),
            current => "urgent",
            ..base(&state, Some(&user))
        },
        StatusCode::OK,
    )
}
