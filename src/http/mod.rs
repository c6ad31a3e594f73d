//! HTTP: routes and thin handlers. Handlers parse, call a service, and map its outcome.

pub mod error;
pub mod health;
pub mod public;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use error::json_error;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(256 * 1024)
            .error_handler(|err, _req| {
                let message = format!("the request body is not valid JSON: {err}");
                actix_web::error::InternalError::from_response(
                    err,
                    json_error(StatusCode::BAD_REQUEST, "invalid_json", &message),
                )
                .into()
            }),
    )
    .app_data(
        // A long consultation in Japanese, percent-encoded, is several hundred kilobytes.
        web::FormConfig::default()
            .limit(1024 * 1024)
            .error_handler(|err, req| {
                let page = public::bad_form_page(req);
                actix_web::error::InternalError::from_response(err, page).into()
            }),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/consult", web::get().to(public::consult_form))
    .route("/consult", web::post().to(public::consult_submit))
    .route(
        "/api/v1/consultations",
        web::post().to(public::create_consultation),
    )
    .default_service(web::to(not_found));
}

async fn not_found() -> HttpResponse {
    json_error(StatusCode::NOT_FOUND, "not_found", "no such resource")
}
