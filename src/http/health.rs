//! `GET /healthz`: 200 when the database answers.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};

use super::blocking;
use super::error::json_error;
use crate::db;
use crate::state::AppState;

#[utoipa::path(
    tag = "public",
    responses(
        (status = 200, description = "The service and its database answer"),
        (status = 503, description = "The database does not answer", body = super::error::ErrorBody),
    )
)]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match blocking(&state, |_, conn| db::ping(conn)).await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        Err(e) => {
            tracing::warn!(
                error = %crate::domain::redact::addresses(&e.to_string()),
                "health check: database does not answer"
            );
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database does not answer",
            )
        }
    }
}
