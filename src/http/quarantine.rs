//! Quarantined mail, for supervisors: look, and try again.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::{blocking, local_time};
use crate::db::{from_db, quarantine};
use crate::desk::auth::Session;
use crate::domain::vocabulary::QuarantineId;
use crate::http::gate::AfterAuth;
use crate::intake::mail;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Also mail that was taken on a later retry.
    #[param(value_type = bool, required = false)]
    all: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct QuarantineItem {
    #[schema(value_type = i64)]
    id: QuarantineId,
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
        (status = 422, description = "`all` is not true or false", body = ErrorBody),
    )
)]
#[get("/quarantine")]
pub async fn list(
    state: web::Data<AppState>,
    user: Session,
    params: AfterAuth<web::Query<ListParams>>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let all = params.all.unwrap_or(false);
    let rows = blocking(&state, move |_, conn| quarantine::list(conn, all)).await?;
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
    user: Session,
    id: web::Path<QuarantineId>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let id = id.into_inner();
    let outcome = blocking(&state, move |st, conn| {
        mail::retry_by(st, conn, &user.actor, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({"outcome": outcome.as_str()})))
}
