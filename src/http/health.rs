//! `GET /healthz`: 200 when the database answers.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use diesel::connection::SimpleConnection;

use super::error::json_error;
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
    let pool = state.pool.clone();
    let answered = web::block(move || {
        pool.get()
            .map_err(|e| e.to_string())
            .and_then(|mut c| c.batch_execute("SELECT 1").map_err(|e| e.to_string()))
    })
    .await;
    match answered {
        Ok(Ok(())) => HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database does not answer");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database does not answer",
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "health check could not run");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "try again shortly",
            )
        }
    }
}
