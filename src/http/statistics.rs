//! `GET /api/v1/reports/statistics`: the fiscal year's figures for the commissioning city
//! (CONTRACT §9) as JSON, CSV or an Excel workbook. Supervisors only.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::{blocking, local_time};
use crate::desk;
use crate::desk::auth::Session;
use crate::domain::statistics::{Cell, Report, YEARS};
use crate::http::gate::AfterAuth;
use crate::state::AppState;

/// What a cell may be told to hide below (`suppress_below`).
pub const SUPPRESS: std::ops::RangeInclusive<i64> = 1..=1000;

fn year_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(f64::from(*YEARS.start())))
        .maximum(Some(f64::from(*YEARS.end())))
        .into()
}

fn suppress_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(*SUPPRESS.start() as f64))
        .maximum(Some(*SUPPRESS.end() as f64))
        .into()
}

fn format_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["json", "csv", "xlsx"]))
        .into()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatisticsParams {
    /// The fiscal year: April 1 of it to April 1 of the next, in the centre's zone.
    #[param(schema_with = year_schema, required = true)]
    fiscal_year: Option<String>,
    /// A table cell with 0 < n < K is the string "<K" (for publication).
    #[param(schema_with = suppress_schema, required = false)]
    suppress_below: Option<String>,
    /// `json` (default), `csv` (UTF-8 with a BOM, for Excel) or `xlsx` (a workbook, one sheet per table).
    #[param(schema_with = format_schema, required = false)]
    format: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

/// The year, the suppression and the format asked for; each wrong one named.
pub fn read_params(
    year: Option<&str>,
    suppress: Option<&str>,
    format: Option<&str>,
) -> Result<(i32, Option<i64>, Format), ApiError> {
    let year = match year.map(|y| y.trim().parse::<i32>()) {
        None => return Err(ApiError::field("fiscal_year", "required")),
        Some(Ok(y)) if YEARS.contains(&y) => y,
        Some(_) => return Err(ApiError::field("fiscal_year", "invalid")),
    };
    // An empty value is refused here; the console's form maps its empty field to absent.
    let suppress = match suppress.map(|s| s.trim().parse::<i64>()) {
        None => None,
        Some(Ok(k)) if SUPPRESS.contains(&k) => Some(k),
        Some(_) => return Err(ApiError::field("suppress_below", "invalid")),
    };
    let format = match format {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some("xlsx") => Format::Xlsx,
        Some(_) => return Err(ApiError::field("format", "invalid")),
    };
    Ok((year, suppress, format))
}

#[derive(Serialize, ToSchema)]
pub struct StatisticsReport {
    fiscal_year: i32,
    from: String,
    to: String,
    /// 実人数: distinct consulters with a contact in the year.
    people: i64,
    /// 延べ件数: consulter messages in the year, automatic mail aside.
    contacts: i64,
    /// People whose first contact ever falls in the year.
    new_people: i64,
    continuing_people: i64,
    /// Staff replies written in the year.
    replies: i64,
    /// Each table by its name (`month`, `channel`, then each case field), each cell a count or
    /// the string "<K" when suppressed; case-field tables count people and carry `unknown`.
    #[schema(value_type = Object)]
    tables: BTreeMap<String, BTreeMap<String, Cell>>,
}

fn json_report(state: &AppState, r: &Report) -> StatisticsReport {
    StatisticsReport {
        fiscal_year: r.year.year,
        from: local_time(state, r.year.from),
        to: local_time(state, r.year.to),
        people: r.people,
        contacts: r.contacts,
        new_people: r.new_people,
        continuing_people: r.continuing_people,
        replies: r.replies,
        tables: r
            .tables
            .iter()
            .map(|t| {
                let cells = t
                    .rows
                    .iter()
                    .map(|row| (row.key.clone(), row.cell.clone()))
                    .collect();
                (t.name.clone(), cells)
            })
            .collect(),
    }
}

/// The report in the format asked for; CSV and xlsx as downloads named by the year.
pub fn answer(state: &AppState, report: &Report, format: Format) -> Result<HttpResponse, ApiError> {
    let download = |ext: &str| {
        (
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"statistics-fy{}.{ext}\"",
                report.year.year
            ),
        )
    };
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(json_report(state, report)),
        Format::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(download("csv"))
            .body(report.csv()),
        Format::Xlsx => {
            let bytes = crate::domain::workbook::xlsx(report)
                .map_err(|e| ApiError::Internal(format!("workbook: {e}")))?;
            HttpResponse::Ok()
                .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                .insert_header(download("xlsx"))
                .body(bytes)
        }
    })
}

#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(StatisticsParams),
    responses(
        (status = 200, description = "The fiscal year's figures: JSON, CSV (UTF-8 with a BOM, Japanese headings) or an xlsx workbook with one sheet per table",
            content(
                (StatisticsReport = "application/json"),
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[get("/reports/statistics")]
pub async fn statistics(
    state: web::Data<AppState>,
    user: Session,
    params: AfterAuth<web::Query<StatisticsParams>>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let (year, suppress, format) = read_params(
        params.fiscal_year.as_deref(),
        params.suppress_below.as_deref(),
        params.format.as_deref(),
    )?;
    let report = blocking(&state, move |st, conn| {
        desk::case::report(st, conn, &user.actor, year, suppress)
    })
    .await?;
    answer(&state, &report, format)
}
