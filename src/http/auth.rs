//! Sign-in, sign-out, and the extractor that turns a bearer token into a staff member.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::gate::TokenCheck;
use super::{blocking, client_addr, local_time};
use crate::desk::auth::{self, Session};
use crate::domain::vocabulary::{Role, StaffId};
use crate::state::AppState;

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// A signed-in staff member: handlers that take a `Session` answer 401 without a valid token.
impl FromRequest for Session {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let addr = client_addr(req);
        let check = TokenCheck::begin(req);
        Box::pin(async move {
            let session = async {
                let token = token.ok_or(ApiError::Unauthenticated)?;
                let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
                blocking(&state, move |st, conn| {
                    auth::authenticate(st, conn, &token, addr)
                })
                .await
            }
            .await;
            check.finish(session.is_ok());
            session
        })
    }
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct StaffOut {
    #[schema(value_type = i64)]
    pub id: StaffId,
    pub name: String,
    /// `counsellor` or `supervisor`.
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    token: String,
    expires_at: String,
    staff: StaffOut,
}

#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = ErrorBody),
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins", body = ErrorBody),
        (status = 503, description = "Too many sign-ins at once; try again after Retry-After", body = ErrorBody),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let addr = client_addr(&req);
    let LoginRequest { email, password } = body.into_inner();
    // Not `blocking`: sign-in takes a connection only for its moments with the database.
    let st = state.clone();
    let signed_in = web::block(move || auth::sign_in(&st, &email, &password, &addr))
        .await
        .map_err(|e| ApiError::Internal(format!("blocking work failed: {e}")))??;
    Ok(HttpResponse::Ok().json(LoginResponse {
        token: signed_in.token,
        expires_at: local_time(&state, signed_in.expires_at),
        staff: StaffOut {
            id: signed_in.staff_id,
            name: signed_in.name,
            role: signed_in.role,
        },
    }))
}

#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The token is revoked"),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    blocking(&state, move |st, conn| auth::sign_out(st, conn, &session)).await?;
    Ok(HttpResponse::NoContent().finish())
}
