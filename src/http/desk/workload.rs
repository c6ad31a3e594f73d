//! 担当状況 (`/desk/workload`): open tickets per counsellor by reply-clock state, the API's
//! figures; and handing a deactivated counsellor's tickets to an active colleague at once.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{DeskUser, base, failed, refused, render, see_other, supervisors_only};
use crate::desk::reports::Workload;
use crate::desk::{self, DeskError};
use crate::domain::vocabulary::StaffId;
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct Shown {
    moved: Option<usize>,
}

#[derive(Serialize)]
struct Line {
    id: i64,
    name: String,
    active: bool,
    open: usize,
    counts: Workload,
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "担当状況: open tickets per counsellor, with reassignment of a deactivated counsellor's", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
    )
)]
#[get("/desk/workload")]
pub async fn show(
    state: web::Data<AppState>,
    user: DeskUser,
    shown: web::Query<Shown>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let actor = user.session.actor.clone();
    let figures = blocking(&state, move |st, conn| {
        Ok::<_, ApiError>((
            desk::reports::workload(st, conn, &actor)?,
            desk::staff::colleagues(conn)?,
        ))
    })
    .await;
    let (report, colleagues) = match figures {
        Ok(f) => f,
        Err(e) => return failed(&state, &user, &e, "/desk"),
    };
    let lines: Vec<Line> = report
        .counsellors
        .into_iter()
        .map(|c| Line {
            id: c.id.0,
            name: c.name,
            active: c.active,
            open: c.open,
            counts: c.by_sla_state,
        })
        .collect();
    let colleagues: Vec<(i64, String)> = colleagues.into_iter().map(|(id, n)| (id.0, n)).collect();
    render(
        &state,
        "desk/workload.html",
        context! {
            lines,
            unassigned => report.unassigned,
            unassigned_open => report.unassigned_open,
            needs_reassignment => report.needs_reassignment.len(),
            colleagues,
            moved => shown.moved,
            current => "workload",
            ..base(&state, Some(&user))
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReassignForm {
    csrf: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 303, description = "Moved; back to the workload page"),
        (status = 403, description = "Not a supervisor, or the form's token is missing", content_type = "text/html"),
        (status = 422, description = "No active colleague chosen", content_type = "text/html"),
    )
)]
#[post("/desk/workload/reassign")]
pub async fn reassign(
    state: web::Data<AppState>,
    user: DeskUser,
    form: web::Form<ReassignForm>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, "/desk/workload");
    }
    let (Some(from), Some(to)) = (form.from, form.to) else {
        let e = ApiError::Desk(DeskError::Invalid(vec![("to", "required")]));
        return failed(&state, &user, &e, "/desk/workload");
    };
    let actor = user.session.actor.clone();
    match blocking(&state, move |st, conn| {
        desk::staff::reassign_open(st, conn, &actor, StaffId(from), StaffId(to))
    })
    .await
    {
        Ok(n) => see_other(&format!("/desk/workload?moved={n}")),
        Err(e) => failed(&state, &user, &e, "/desk/workload"),
    }
}
