//! `POST /api/v1/my/session`, `DELETE /api/v1/my/session`, `GET /api/v1/my/consultation` and
//! `POST /api/v1/my/messages`: the consulter's page as JSON (CONTRACT §10).

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::MyBearer;
use crate::db::from_db;
use crate::desk::my_page;
use crate::domain::vocabulary::{MessageId, MessageKind, Status};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::gate::AfterAuth;
use crate::http::{blocking, client_addr, local_time};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct MySessionRequest {
    /// The reference as on the receipt; letter case and the hyphen do not matter.
    #[schema(max_length = 64)]
    reference: String,
    #[schema(max_length = 1024)]
    passphrase: String,
}

#[derive(Serialize, ToSchema)]
pub struct MySessionResponse {
    token: String,
    /// When the token lapses unless used; each use moves it on (`my_page.idle_minutes`).
    expires_at: String,
}

/// Longer than any reference or passphrase can be: refused before any hashing.
const MAX_TYPED: usize = 1024;

#[utoipa::path(
    tag = "my",
    request_body = MySessionRequest,
    responses(
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = ErrorBody),
        (status = 200, description = "Signed in to the consulter's page", body = MySessionResponse),
        (status = 401, description = "Wrong passphrase, unknown reference, or no passphrase: one answer", body = ErrorBody),
        (status = 422, description = "A field far too long", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins for this reference or from this address", body = ErrorBody),
        (status = 503, description = "Too many sign-ins at once; try again after Retry-After", body = ErrorBody),
    )
)]
#[post("/my/session")]
pub async fn open(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<MySessionRequest>,
) -> Result<HttpResponse, ApiError> {
    let MySessionRequest {
        reference,
        passphrase,
    } = body.into_inner();
    if reference.chars().count() > MAX_TYPED {
        return Err(ApiError::field("reference", "too_long"));
    }
    if passphrase.chars().count() > MAX_TYPED {
        return Err(ApiError::field("passphrase", "too_long"));
    }
    let addr = client_addr(&req);
    let st = state.clone();
    // Not `blocking`: the check takes a connection only for its moments with the database.
    let opened = web::block(move || my_page::sign_in(&st, &reference, &passphrase, &addr))
        .await
        .map_err(|e| ApiError::Internal(format!("blocking work failed: {e}")))??;
    Ok(HttpResponse::Ok().json(MySessionResponse {
        token: opened.token,
        expires_at: local_time(&state, opened.expires_at),
    }))
}

#[utoipa::path(
    tag = "my",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out: the token no longer opens anything"),
        (status = 401, description = "No valid consulter token", body = ErrorBody),
    )
)]
#[delete("/my/session")]
pub async fn close(state: web::Data<AppState>, who: MyBearer) -> Result<HttpResponse, ApiError> {
    blocking(&state, move |st, conn| my_page::sign_out(st, conn, &who.0)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct MyMessageOut {
    #[schema(value_type = i64)]
    id: MessageId,
    /// `inbound` (the consulter's) or `outbound` (a reply from the centre).
    #[schema(schema_with = my_kind)]
    kind: MessageKind,
    body_text: String,
    created_at: String,
}

fn my_kind() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["inbound", "outbound"]))
        .build()
}

#[derive(Serialize, ToSchema)]
pub struct MyConsultation {
    reference: String,
    /// `new`, `open`, `waiting` or `closed`.
    status: Status,
    /// Oldest first: the consulter's messages and the centre's replies, nothing else.
    messages: Vec<MyMessageOut>,
}

#[utoipa::path(
    tag = "my",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The consultation as its consulter sees it; the read is recorded", body = MyConsultation),
        (status = 401, description = "No valid consulter token", body = ErrorBody),
    )
)]
#[get("/my/consultation")]
pub async fn consultation(
    state: web::Data<AppState>,
    who: MyBearer,
) -> Result<HttpResponse, ApiError> {
    let view = blocking(&state, move |st, conn| my_page::read(st, conn, &who.0)).await?;
    Ok(HttpResponse::Ok().json(MyConsultation {
        reference: view.reference,
        status: view.status,
        messages: view
            .messages
            .into_iter()
            .map(|m| MyMessageOut {
                id: m.id,
                kind: m.kind,
                body_text: m.body_text,
                created_at: local_time(&state, from_db(m.created_at)),
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct MyMessageRequest {
    /// At most `intake.max_body_chars` characters.
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]")]
    body: String,
}

#[derive(Serialize, ToSchema)]
pub struct MyMessageCreated {
    #[schema(value_type = i64)]
    id: MessageId,
    created_at: String,
}

#[utoipa::path(
    tag = "my",
    security(("bearer" = [])),
    request_body = MyMessageRequest,
    responses(
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = ErrorBody),
        (status = 201, description = "Added to the consultation as the consulter's message, triaged; a reply clock starts when none runs", body = MyMessageCreated),
        (status = 401, description = "No valid consulter token", body = ErrorBody),
        (status = 422, description = "Empty or too long, named in error.fields", body = ErrorBody),
    )
)]
#[post("/my/messages")]
pub async fn write(
    state: web::Data<AppState>,
    who: MyBearer,
    body: AfterAuth<web::Json<MyMessageRequest>>,
) -> Result<HttpResponse, ApiError> {
    let text = body.into_inner().body;
    let (id, at) = blocking(&state, move |st, conn| {
        my_page::write(st, conn, &who.0, &text)
    })
    .await?;
    Ok(HttpResponse::Created().json(MyMessageCreated {
        id,
        created_at: local_time(&state, at),
    }))
}
