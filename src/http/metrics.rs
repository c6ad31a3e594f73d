//! `GET /metrics` for Prometheus, and the middleware that times every request.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpResponse, get, web};

use super::blocking;
use super::error::ApiError;
use crate::db::reports;
use crate::metrics::gauge;
use crate::state::AppState;

#[utoipa::path(
    tag = "public",
    responses((status = 200, description = "Prometheus text format: tickets by status and reply-clock state, outbox depth and failures, intake outcomes, request latency", content_type = "text/plain"))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (by_status, by_sla, outbox) = blocking(&state, move |st, conn| {
        let now = st.time.now();
        Ok::<_, crate::db::DbError>((
            reports::count_by_status(conn)?,
            reports::count_by_sla_state(conn, now, now + st.rules.due_soon)?,
            reports::outbox_by_status(conn)?,
        ))
    })
    .await?;
    let mut out = String::new();
    gauge(
        &mut out,
        "madoguchi_tickets",
        "Tickets by status.",
        "status",
        by_status.iter().map(|t| (t.label.as_str(), t.count)),
    );
    gauge(
        &mut out,
        "madoguchi_open_tickets_by_sla_state",
        "Open tickets by reply-clock state.",
        "sla_state",
        by_sla.iter().map(|t| (t.label.as_str(), t.count)),
    );
    gauge(
        &mut out,
        "madoguchi_outbox_mail",
        "Outgoing mail by delivery status.",
        "status",
        outbox.iter().map(|t| (t.label.as_str(), t.count)),
    );
    state.metrics.render(&mut out);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out))
}

/// Times each request under its route pattern, so no id or personal data becomes a label.
pub fn measure<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<B>, Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let start = Instant::now();
    let method = crate::metrics::method_label(req.method().as_str());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let fut = srv.call(req);
    async move {
        let res = fut.await?;
        // The pattern is known only once routing has run, inside the service.
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        if let Some(state) = state {
            state.metrics.request(
                method,
                &route,
                res.status().as_u16(),
                start.elapsed().as_secs_f64(),
            );
        }
        Ok(res)
    }
}
