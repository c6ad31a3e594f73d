//! HTTP: routes and thin handlers. Handlers parse, call one desk function on a blocking
//! thread, and render its outcome. The OpenAPI document is collected from the same registrations,
//! so a route cannot be served without being documented.

pub mod auth;
pub mod deadline;
pub mod desk;
pub mod error;
pub mod form_guard;
pub mod gate;
pub mod headers;
pub mod health;
pub mod methods;
pub mod metrics;
pub mod my;
pub mod openapi_finish;
pub mod params;
pub mod public;
pub mod quarantine;
pub mod report_csv;
pub mod reports;
pub mod reviews;
pub mod schema;
pub mod site;
pub mod staff;
pub mod statistics;
pub mod text_modules;
pub mod tickets;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{AppExt, scope};

use crate::db::{DbConn, DbError};
use crate::state::AppState;
use error::{ApiError, json_error};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "madoguchi",
        description = "The consultation window: public intake, the counsellors' queue and supervisors' reports."
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route. Registered through utoipa-actix-web, which collects each handler's
/// `#[utoipa::path]` into the OpenAPI document as it registers it.
pub fn register(cfg: &mut ServiceConfig) {
    cfg.service(site::home)
        .service(site::asset)
        .service(health::healthz)
        .service(metrics::metrics)
        .service(public::consult_form)
        .service(public::consult_submit)
        .service(desk::sign_in::home)
        .service(desk::sign_in::login)
        .service(desk::sign_in::logout)
        .service(desk::ticket::show)
        .service(desk::ticket::attachment)
        .service(desk::actions::reply)
        .service(desk::drafts::autosave)
        .service(desk::actions::note)
        .service(desk::text_modules::list)
        .service(desk::text_modules::edit)
        .service(desk::text_modules::create)
        .service(desk::text_modules::change)
        .service(desk::actions::assign)
        .service(desk::actions::status)
        .service(desk::actions::triage)
        // The supervisors' pages (issue 13, point 5).
        .service(desk::reports::overdue)
        .service(desk::reports::overdue_csv)
        .service(desk::reports::sla)
        .service(desk::reports::sla_csv)
        .service(desk::urgent::urgent)
        .service(desk::workload::show)
        .service(desk::workload::reassign)
        .service(desk::staff::list)
        .service(desk::staff::create)
        .service(desk::staff::show_member)
        .service(desk::staff::change)
        .service(desk::quarantine::list)
        .service(desk::quarantine::show)
        .service(desk::quarantine::download)
        .service(desk::quarantine::retry)
        // 承認待ち (reply review).
        .service(desk::reviews::list)
        .service(desk::reviews::policy)
        .service(desk::reviews::show)
        .service(desk::reviews::approve)
        .service(desk::reviews::send_back)
        .service(desk::case::save)
        .service(desk::statistics::page)
        .service(desk::statistics::download)
        // The consulter's own page (CONTRACT §10) and its end by a supervisor.
        .service(my::page::home)
        .service(my::page::open)
        .service(my::page::write)
        .service(my::page::close)
        .service(desk::actions::end_my_access)
        .service(
            scope("/api/v1")
                .service(public::create_consultation)
                .service(auth::login)
                .service(auth::logout)
                .service(tickets::queue::list)
                .service(tickets::detail::detail)
                .service(tickets::detail::audit)
                .service(tickets::detail::attachment)
                .service(tickets::actions::assign)
                .service(tickets::actions::reply)
                .service(tickets::actions::note)
                .service(tickets::actions::update)
                .service(tickets::actions::triage)
                .service(reports::urgent)
                .service(reports::overdue)
                .service(reports::due_by)
                .service(reports::sla_report)
                .service(reports::workload)
                .service(staff::create)
                .service(staff::list)
                .service(staff::deactivate)
                .service(staff::reactivate)
                .service(staff::reset_password)
                .service(text_modules::list)
                .service(text_modules::create)
                .service(text_modules::update)
                .service(text_modules::remove)
                .service(quarantine::list)
                .service(quarantine::retry)
                // Reply review (CONTRACT §8).
                .service(staff::update)
                .service(reviews::list)
                .service(reviews::approve)
                .service(reviews::send_back)
                // Case fields and the city's yearly figures (CONTRACT §9).
                .service(tickets::case::set)
                .service(tickets::case::fields)
                .service(statistics::statistics)
                .service(my::api::open)
                .service(my::api::close)
                .service(my::api::consultation)
                .service(my::api::write)
                .service(tickets::my_access::end)
                .route("/openapi.json", web::get().to(openapi_json)),
        );
}

/// The OpenAPI document, built once at start from the same registrations the server uses.
pub fn openapi() -> utoipa::openapi::OpenApi {
    actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(register)
        .split_for_parts()
        .1
        .tap_bad_bodies()
}

trait BadBodies {
    fn tap_bad_bodies(self) -> Self;
}

impl BadBodies for utoipa::openapi::OpenApi {
    /// Every body is read through the shared JSON and form settings (`configure`), whose
    /// answer to a body that does not parse is 400: each operation that takes a body says so.
    fn tap_bad_bodies(mut self) -> Self {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, Schema};
        for item in self.paths.paths.values_mut() {
            for op in [&mut item.post, &mut item.put, &mut item.patch]
                .into_iter()
                .flatten()
            {
                if op.request_body.is_none() || op.responses.responses.contains_key("400") {
                    continue;
                }
                let json = op.request_body.as_ref().is_some_and(
                    |b| matches!(b, RefOr::T(b) if b.content.contains_key("application/json")),
                );
                // The form pages answer a page, the API its error object.
                let content: (&str, RefOr<Schema>) = if json {
                    (
                        "application/json",
                        Ref::from_schema_name("ErrorBody").into(),
                    )
                } else {
                    (
                        "text/html",
                        ObjectBuilder::new().schema_type(Type::String).into(),
                    )
                };
                let response = ResponseBuilder::new()
                    .description("The body does not parse as the media type it declares")
                    .content(
                        content.0,
                        ContentBuilder::new().schema(Some(content.1)).build(),
                    )
                    .build();
                op.responses.responses.insert("400".into(), response.into());
            }
        }
        self
    }
}

pub struct OpenApiJson(pub String);

async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

/// Request-body settings and fallbacks shared by every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(256 * 1024)
            .error_handler(|err, _req| {
                let response = if let actix_web::error::JsonPayloadError::Payload(e) = &err
                    && deadline::timed_out(e)
                {
                    json_error(
                        StatusCode::REQUEST_TIMEOUT,
                        "request_timeout",
                        "the request body did not arrive in time",
                    )
                } else if too_large(&err) {
                    json_error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "the request body is larger than this endpoint accepts",
                    )
                } else {
                    let message = format!("the request body is not valid JSON: {err}");
                    json_error(StatusCode::BAD_REQUEST, "invalid_json", &message)
                };
                actix_web::error::InternalError::from_response(err, response).into()
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
    .app_data(web::PathConfig::default().error_handler(|err, _req| {
        actix_web::error::InternalError::from_response(
            err,
            json_error(StatusCode::NOT_FOUND, "not_found", "no such resource"),
        )
        .into()
    }))
    .app_data(web::QueryConfig::default().error_handler(|err, _req| {
        let message = format!("the query string is not valid: {err}");
        actix_web::error::InternalError::from_response(
            err,
            json_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", &message),
        )
        .into()
    }));
}

/// A body refused for its size, whether it said so in `Content-Length` or only ran over.
fn too_large(err: &actix_web::error::JsonPayloadError) -> bool {
    use actix_web::error::{JsonPayloadError, PayloadError};
    matches!(
        err,
        JsonPayloadError::Overflow { .. }
            | JsonPayloadError::OverflowKnownLength { .. }
            | JsonPayloadError::Payload(PayloadError::Overflow)
    )
}

pub async fn not_found() -> HttpResponse {
    json_error(StatusCode::NOT_FOUND, "not_found", "no such resource")
}

/// The client's address for limits and the audit trail: the connecting peer, or, behind a
/// trusted proxy, the address it forwarded (`server.trusted_proxies`).
pub fn client_ip(req: &HttpRequest) -> std::net::IpAddr {
    let peer = req
        .peer_addr()
        .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| {
            a.ip()
        });
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return peer;
    };
    let trusted = &state.settings.server.trusted_proxies;
    if trusted.is_empty() {
        return peer.to_canonical();
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    crate::domain::proxies::client_address(peer, &forwarded, trusted)
}

pub fn client_addr(req: &HttpRequest) -> String {
    client_ip(req).to_string()
}

/// Times in the API are RFC 3339 in the centre's own zone.
pub fn local_time(state: &AppState, t: DateTime<Utc>) -> String {
    t.with_timezone(&state.rules.tz).to_rfc3339()
}

/// Runs work that needs the database on the blocking pool, never on the async threads: the
/// closure gets the state and a pooled connection.
pub async fn blocking<T, E, F>(state: &web::Data<AppState>, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&AppState, &mut DbConn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    let state = state.clone();
    off_async(move || {
        let mut conn = state.pool.get().map_err(DbError::from)?;
        f(&state, &mut conn).map_err(Into::into)
    })
    .await?
}

/// Runs blocking work that needs no connection (an argon2 hash) on the blocking pool.
pub async fn off_async<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    web::block(f)
        .await
        .map_err(|e| ApiError::Internal(format!("blocking work failed: {e}")))
}
