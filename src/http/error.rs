//! The JSON error envelope of CONTRACT §4: `{"error": {"code", "message", "fields"?}}`.

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::json;

use crate::domain::consultation::FieldError;

pub fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": {"code": code, "message": message}}))
}

/// 422 naming each offending field with a stable code.
pub fn validation_error(errors: &[FieldError]) -> HttpResponse {
    let fields: BTreeMap<&str, &str> = errors.iter().map(|e| (e.field, e.code)).collect();
    HttpResponse::UnprocessableEntity().json(json!({
        "error": {
            "code": "validation_failed",
            "message": "some fields are missing or invalid",
            "fields": fields,
        }
    }))
}

/// Logged with its cause but answered without it: internals are nobody's business outside.
pub fn internal(what: &str, cause: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %crate::domain::redact::addresses(&cause.to_string()), "{what}");
    json_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "something went wrong on our side; please try again later",
    )
}

/// The error envelope, for the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable and snake_case, for programs.
    code: String,
    /// For people.
    message: String,
    /// On 422: each offending field with a code such as `required` or `invalid`.
    fields: Option<BTreeMap<String, String>>,
}
