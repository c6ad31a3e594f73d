//! `DELETE /api/v1/tickets/{id}/my-access`: a supervisor ends the consulter's page access
//! (CONTRACT §10). The only way to "reset" a passphrase: it is forgotten, and replies go by
//! mail again (a notice only, when the consulter asked for that).

use actix_web::{HttpResponse, delete, web};

use crate::desk::auth::Session;
use crate::desk::my_page;
use crate::domain::vocabulary::TicketId;
use crate::http::blocking;
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 204, description = "Page access ended (or had ended already); every page sign-in of the ticket ends"),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Only supervisors", body = ErrorBody),
        (status = 404, description = "No such ticket, or it never had page access", body = ErrorBody),
    )
)]
#[delete("/tickets/{id}/my-access")]
pub async fn end(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<TicketId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    blocking(&state, move |st, conn| {
        my_page::end_access(st, conn, &user.actor, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
