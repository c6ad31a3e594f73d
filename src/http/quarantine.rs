//! Quarantined mail, for supervisors: look, and try again.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::auth::StaffUser;
use super::error::ErrorBody;
use super::tickets::TicketError;
use super::{blocking, local_time};
use crate::db::{DbError, from_db, quarantine};
use crate::desk::audit;
use crate::desk::tickets::ActionError;
use crate::intake::mail;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
pub struct ListParams {
    /// Also mail that was taken on a later retry.
    all: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct QuarantineItem {
    id: i64,
    received_at: String,
    /// `ingest`, `imap`, …
    source: String,
    reason: String,
    retried_at: Option<String>,
    resolved_at: Option<String>,
}

#[utoipa::path(
    tag = "quarantine",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "Mail that could not be taken, newest first", body = Vec<QuarantineItem>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    )
)]
#[get("/quarantine")]
pub async fn list(
    state: web::Data<AppState>,
    user: StaffUser,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, TicketError> {
    user.require_supervisor()?;
    let all = params.all.unwrap_or(false);
    let rows = blocking(&state, move |conn| {
        Ok::<_, TicketError>(quarantine::list(conn, all)?)
    })
    .await?;
    let items: Vec<QuarantineItem> = rows
        .into_iter()
        .map(|r| QuarantineItem {
            id: r.id,
            received_at: local_time(&state, from_db(r.received_at)),
            source: r.source,
            reason: r.reason,
            retried_at: r.retried_at.map(|t| local_time(&state, from_db(t))),
            resolved_at: r.resolved_at.map(|t| local_time(&state, from_db(t))),
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

#[utoipa::path(
    tag = "quarantine",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Quarantine id")),
    responses(
        (status = 200, description = "The outcome: `opened`, `joined`, `duplicate`, `bounce`, or `quarantined` again"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
#[post("/quarantine/{id}/retry")]
pub async fn retry(
    state: web::Data<AppState>,
    user: StaffUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, TicketError> {
    user.require_supervisor()?;
    let id = id.into_inner();
    let st = state.clone();
    let outcome = blocking(&state, move |conn| {
        let outcome = mail::retry(&st, conn, id)
            .map_err(|e| TicketError::Action(ActionError::Db(DbError::Unavailable(e.to_string()))))?
            .ok_or(TicketError::Action(ActionError::NotFound))?;
        let target = format!("quarantine:{id}");
        let detail = Some(outcome.as_str());
        audit(
            conn,
            &user.actor,
            st.time.now(),
            "quarantine.retry",
            None,
            Some(&target),
            detail,
        )?;
        Ok::<_, TicketError>(outcome)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({"outcome": outcome.as_str()})))
}
