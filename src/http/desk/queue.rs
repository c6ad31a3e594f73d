//! The queue page: the API's queue (same desk function, same filters, same order), in words.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{DeskUser, base, failed, message, percent_encode, render, words};
use crate::db::from_db;
use crate::db::queue::{Cursor, SummaryRow};
use crate::desk;
use crate::domain::clock::{self, SlaState};
use crate::http::blocking;
use crate::http::tickets::queue::{QueueParams, queue_query};
use crate::state::AppState;

/// A page of the queue holds this many lines.
const PAGE: i64 = 50;

/// The query of `GET /desk`: the API's filters, a cursor, a reference to find, and the
/// sign-in page's own (`next`, `expired`, `signed_out`).
#[derive(Debug, Default, Deserialize)]
pub struct QueueForm {
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub sla: Option<String>,
    pub cursor: Option<String>,
    pub reference: Option<String>,
    pub next: Option<String>,
    pub expired: Option<String>,
    pub signed_out: Option<String>,
}

/// The filters as chosen; the console shows the tickets not yet closed unless told otherwise.
struct Filters {
    status: String,
    assignee: String,
    sla: String,
}

impl Filters {
    fn of(form: &QueueForm) -> Self {
        let pick = |v: &Option<String>, default: &str| match v.as_deref() {
            None | Some("") => default.to_string(),
            Some(v) => v.to_string(),
        };
        Self {
            status: pick(&form.status, "open"),
            assignee: pick(&form.assignee, "all"),
            sla: pick(&form.sla, "all"),
        }
    }

    /// `all` is the API's "no filter".
    fn api(&self, cursor: Option<String>) -> QueueParams {
        let given = |v: &str| (v != "all").then(|| v.to_string());
        QueueParams {
            status: given(&self.status),
            assignee: given(&self.assignee),
            sla: given(&self.sla),
            limit: Some(PAGE),
            cursor,
            reference: None,
        }
    }

    fn query_string(&self) -> String {
        format!(
            "status={}&assignee={}&sla={}",
            percent_encode(&self.status),
            percent_encode(&self.assignee),
            percent_encode(&self.sla)
        )
    }
}

#[derive(Serialize)]
struct Line {
    id: i64,
    reference: String,
    subject: String,
    status: &'static str,
    sla: &'static str,
    sla_code: &'static str,
    urgent: bool,
    assignee: Option<String>,
    reply_by: Option<String>,
    /// A reply on it waits for a supervisor (承認待ち).
    awaiting_review: bool,
}

fn line(state: &AppState, row: SummaryRow) -> Line {
    let due = row.reply_due_at.map(from_db);
    let sla = clock::sla_state(&state.rules, due, state.time.now());
    Line {
        id: row.id.0,
        reference: row.reference,
        subject: row.subject,
        status: words::status(row.status),
        sla: words::sla(sla),
        sla_code: match sla {
            SlaState::Overdue => "overdue",
            SlaState::DueSoon => "due_soon",
            SlaState::OnTrack => "on_track",
            SlaState::None => "none",
        },
        urgent: row.urgent,
        assignee: row.assignee_name,
        reply_by: due.map(|d| words::when(state, d)),
        awaiting_review: row.awaiting_review,
    }
}

/// The queue page for a signed-in person: one page of the queue, or the ticket a reference
/// names.
pub async fn page(state: &web::Data<AppState>, user: &DeskUser, form: QueueForm) -> HttpResponse {
    let filters = Filters::of(&form);
    let searched = form
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let actor = user.session.actor.clone();
    let (rows, next_cursor) = if let Some(typed) = searched.clone() {
        match blocking(state, move |st, conn| {
            desk::tickets::find_by_reference(st, conn, &actor, &typed)
        })
        .await
        {
            Ok(found) => (found.into_iter().collect::<Vec<_>>(), None),
            Err(e) => return failed(state, user, &e, "/desk"),
        }
    } else {
        let query = match queue_query(state, &user.session, &filters.api(form.cursor.clone())) {
            Ok(q) => q,
            Err(_) => {
                return message(
                    state,
                    Some(user),
                    "絞り込みの条件を読み取れませんでした",
                    "条件を選び直してください。",
                    "/desk",
                    StatusCode::UNPROCESSABLE_ENTITY,
                );
            }
        };
        let audit_filters = format!(
            "status={} assignee={} sla={}",
            filters.status, filters.assignee, filters.sla
        );
        match blocking(state, move |st, conn| {
            desk::tickets::queue_page(st, conn, &actor, &query, &audit_filters)
        })
        .await
        {
            Ok(mut rows) => {
                let next = if rows.len() as i64 > PAGE {
                    rows.truncate(PAGE as usize);
                    rows.last().map(|r| Cursor::after(r).encode())
                } else {
                    None
                };
                (rows, next)
            }
            Err(e) => return failed(state, user, &e, "/desk"),
        }
    };
    let colleagues = blocking(state, |_, conn| desk::staff::colleagues(conn))
        .await
        .unwrap_or_default();
    let lines: Vec<Line> = rows.into_iter().map(|r| line(state, r)).collect();
    render(
        state,
        "desk/queue.html",
        context! {
            lines,
            searched,
            filters => context! {
                status => filters.status,
                assignee => filters.assignee,
                sla => filters.sla,
            },
            statuses => words::STATUSES.iter().map(|s| (s.as_str(), words::status(*s))).collect::<Vec<_>>(),
            colleagues => colleagues.iter().map(|(id, name)| (id.0.to_string(), name.clone())).collect::<Vec<_>>(),
            next_page => next_cursor.map(|c| format!("/desk?{}&cursor={}", filters.query_string(), percent_encode(&c))),
            paged => form.cursor.is_some(),
            first_page => format!("/desk?{}", filters.query_string()),
            current => "queue",
            ..base(state, Some(user))
        },
        StatusCode::OK,
    )
}
