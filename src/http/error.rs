//! The one error type of the HTTP layer and its JSON envelope (docs/CONTRACT.md §4):
//! `{"error": {"code", "message", "fields"?}}`.

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::db::DbError;
use crate::desk::DeskError;
use crate::domain::consultation::FieldError;
use crate::mail::mailer::ComposeError;

/// Why a request was not served. Each answers with one status and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Desk(#[from] DeskError),
    /// No bearer token came with a staff request.
    #[error("sign in first")]
    Unauthenticated,
    /// A query or body field that cannot be read, or a consultation that fails its checks.
    #[error("invalid fields: {0:?}")]
    Invalid(Vec<(&'static str, &'static str)>),
    /// A field that must be one word of a vocabulary; the 422 lists the words.
    #[error("{field} must be one of {allowed:?}")]
    NotOneOf {
        field: &'static str,
        allowed: Vec<&'static str>,
    },
    /// Too many consultations from one client address within the hour.
    #[error("too many consultations from one address")]
    RateLimited,
    /// The blocking work could not run to its end (it panicked, or the pool is gone).
    #[error("{0}")]
    Internal(String),
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        Self::Desk(DeskError::Db(e))
    }
}

impl ApiError {
    /// One query or body field that is not acceptable.
    pub fn field(field: &'static str, code: &'static str) -> Self {
        Self::Invalid(vec![(field, code)])
    }

    /// A word that is not one of a vocabulary's, answered with the words that are.
    pub fn not_one_of<W: Copy>(
        field: &'static str,
        all: &[W],
        word: fn(W) -> &'static str,
    ) -> Self {
        Self::NotOneOf {
            field,
            allowed: all.iter().map(|w| word(*w)).collect(),
        }
    }

    /// A consultation's failed checks, each field with its code.
    pub fn fields(errors: &[FieldError]) -> Self {
        Self::Invalid(errors.iter().map(|e| (e.field, e.code)).collect())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Desk(e) => desk_status(e),
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Invalid(_) | Self::NotOneOf { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut response = match self {
            Self::Unauthenticated => json_error(status, "unauthenticated", "sign in first"),
            Self::Invalid(fields) => validation_failed(fields),
            Self::NotOneOf { field, allowed } => HttpResponse::build(status).json(json!({
                "error": {
                    "code": "validation_failed",
                    "message": format!("{field} must be one of: {}", allowed.join(", ")),
                    "fields": {*field: "invalid"},
                    "allowed": {*field: allowed},
                }
            })),
            Self::RateLimited => json_error(
                status,
                "rate_limited",
                "too many consultations from this address in the last hour; \
                 please try again later or call the consultation line",
            ),
            Self::Internal(e) => internal(e),
            Self::Desk(e) => desk_response(status, e),
        };
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if let Self::Desk(DeskError::Busy) = self {
            headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        if let Self::Desk(DeskError::Throttled {
            retry_after_seconds,
        }) = self
            && let Ok(v) = header::HeaderValue::from_str(&retry_after_seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        response
    }
}

fn desk_status(e: &DeskError) -> StatusCode {
    match e {
        DeskError::NotFound(_) => StatusCode::NOT_FOUND,
        DeskError::Forbidden(_) => StatusCode::FORBIDDEN,
        DeskError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        DeskError::Collision { .. }
        | DeskError::AccountExists
        | DeskError::OwnAccount
        | DeskError::ReviewDecided => StatusCode::CONFLICT,
        DeskError::InvalidToken
        | DeskError::Expired
        | DeskError::WrongCredentials
        | DeskError::WrongPassphrase => StatusCode::UNAUTHORIZED,
        DeskError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        DeskError::Mail(ComposeError::Recipient) => StatusCode::CONFLICT,
        // Down, locked past the busy timeout, or a full disk: it passes, so 503 and not 500.
        DeskError::Db(db) if db.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
        DeskError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        DeskError::Db(_) | DeskError::Mail(_) | DeskError::Config(_) | DeskError::Hashing(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn desk_response(status: StatusCode, e: &DeskError) -> HttpResponse {
    match e {
        DeskError::NotFound(_) => json_error(status, "not_found", &e.to_string()),
        DeskError::Forbidden(why) => json_error(status, "forbidden", why),
        DeskError::Invalid(fields) => validation_failed(fields),
        DeskError::Collision {
            message_id,
            body_text,
            created_at,
        } => HttpResponse::build(status).json(json!({
            "error": {
                "code": "newer_message",
                "message": "the consulter wrote again after the message you last saw; \
                            read it before replying",
                "message_id": message_id,
                "body_text": body_text,
                "created_at": created_at.to_rfc3339(),
            }
        })),
        DeskError::AccountExists => json_error(status, "exists", &e.to_string()),
        DeskError::ReviewDecided => json_error(status, "review_decided", &e.to_string()),
        DeskError::OwnAccount => json_error(status, "own_account", &e.to_string()),
        DeskError::InvalidToken => json_error(status, "invalid_token", &e.to_string()),
        DeskError::Expired => json_error(status, "token_expired", &e.to_string()),
        DeskError::WrongCredentials => json_error(status, "invalid_credentials", &e.to_string()),
        DeskError::WrongPassphrase => json_error(status, "invalid_credentials", &e.to_string()),
        DeskError::Throttled { .. } => json_error(
            status,
            "too_many_attempts",
            "too many failed sign-ins; wait a while before trying again",
        ),
        DeskError::Busy => json_error(
            status,
            "busy",
            "too many sign-ins at once; please try again in a moment",
        ),
        DeskError::Mail(ComposeError::Recipient) => json_error(
            status,
            "unmailable_address",
            "the consulter's address cannot be written on a mail; nothing was sent",
        ),
        DeskError::Db(db) if db.is_unavailable() => json_error(
            status,
            "unavailable",
            "the service is busy; please try again shortly",
        ),
        DeskError::Db(_) | DeskError::Mail(_) | DeskError::Config(_) | DeskError::Hashing(_) => {
            internal(e)
        }
    }
}

pub fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": {"code": code, "message": message}}))
}

/// The one 422: each offending field named with a stable code.
pub fn validation_failed(fields: &[(&str, &str)]) -> HttpResponse {
    let fields: BTreeMap<&str, &str> = fields.iter().copied().collect();
    HttpResponse::UnprocessableEntity().json(json!({
        "error": {
            "code": "validation_failed",
            "message": "some fields are missing or invalid",
            "fields": fields,
        }
    }))
}

/// Logged with its cause but answered without it: internals are nobody's business outside.
fn internal(cause: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(
        error = %crate::domain::redact::addresses(&cause.to_string()),
        "request failed"
    );
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
    /// On 422 for a field that takes one of a list of words: the words it takes.
    allowed: Option<BTreeMap<String, Vec<String>>>,
}
