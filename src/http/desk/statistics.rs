//! `GET /desk/statistics`: the 統計 page for supervisors — the fiscal year's figures for the
//! commissioning city, the counting rules in words, and the CSV and workbook to download
//! (the API's report, by the console's session).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use chrono::Datelike;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{DeskUser, base, failed, render};
use crate::desk;
use crate::domain::statistics::{Cell, FiscalYear};
use crate::http::blocking;
use crate::http::statistics::{Format, answer, read_params};
use crate::state::AppState;

/// How many past years the select offers.
const YEARS_SHOWN: i32 = 6;
/// The suppression a person can choose for publication.
const SUPPRESS_CHOICES: [i64; 3] = [3, 5, 10];

#[derive(Deserialize)]
pub struct Asked {
    fiscal_year: Option<String>,
    suppress_below: Option<String>,
    format: Option<String>,
}

/// The year shown when none is asked: the current one, but in April (when the year's report
/// is written) the year that has just ended.
fn default_year(state: &AppState) -> i32 {
    let now = state.time.now();
    let year = FiscalYear::of(now, state.rules.tz);
    if now.with_timezone(&state.rules.tz).month() == 4 {
        year - 1
    } else {
        year
    }
}

#[derive(Serialize)]
struct RowOut {
    label: String,
    value: String,
}

#[derive(Serialize)]
struct TableOut {
    label: String,
    unit: &'static str,
    rows: Vec<RowOut>,
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "The 統計 page: the fiscal year's tables and the downloads", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, which returns here"),
        (status = 403, description = "Counsellors: for supervisors only", content_type = "text/html"),
        (status = 422, description = "A year or suppression that cannot be", content_type = "text/html"),
    )
)]
#[get("/desk/statistics")]
pub async fn page(
    state: web::Data<AppState>,
    user: DeskUser,
    asked: web::Query<Asked>,
) -> HttpResponse {
    let year_text = asked
        .fiscal_year
        .clone()
        .filter(|y| !y.is_empty())
        .unwrap_or_else(|| default_year(&state).to_string());
    let (year, suppress, _) =
        match read_params(Some(&year_text), chosen(&asked.suppress_below), None) {
            Ok(p) => p,
            Err(e) => return failed(&state, &user, &e, "/desk/statistics"),
        };
    let actor = user.session.actor.clone();
    let report = match blocking(&state, move |st, conn| {
        desk::case::report(st, conn, &actor, year, suppress)
    })
    .await
    {
        Ok(r) => r,
        Err(e) => return failed(&state, &user, &e, "/desk"),
    };
    let newest = FiscalYear::of(state.time.now(), state.rules.tz);
    let mut years: Vec<i32> = (newest - YEARS_SHOWN + 1..=newest).rev().collect();
    if !years.contains(&year) {
        years.push(year);
    }
    let tz = state.rules.tz;
    let last_day = (report.year.to - chrono::Duration::days(1)).with_timezone(&tz);
    let query = match suppress {
        Some(k) => format!("fiscal_year={year}&suppress_below={k}"),
        None => format!("fiscal_year={year}"),
    };
    let tables: Vec<TableOut> = report
        .tables
        .iter()
        .map(|t| TableOut {
            label: t.label.clone(),
            unit: t.unit,
            rows: t
                .rows
                .iter()
                .map(|r| RowOut {
                    label: r.label.clone(),
                    value: match &r.cell {
                        Cell::Count(n) => n.to_string(),
                        Cell::Suppressed(s) => s.clone(),
                    },
                })
                .collect(),
        })
        .collect();
    render(
        &state,
        "desk/statistics.html",
        context! {
            current => "statistics",
            year,
            years,
            suppress,
            suppress_choices => SUPPRESS_CHOICES,
            period => format!(
                "{}年4月1日から{}年3月31日まで",
                report.year.year,
                last_day.year()
            ),
            summary => context! {
                people => report.people,
                contacts => report.contacts,
                new_people => report.new_people,
                continuing_people => report.continuing_people,
                replies => report.replies,
            },
            tables,
            csv_url => format!("/desk/statistics/download?{query}&format=csv"),
            xlsx_url => format!("/desk/statistics/download?{query}&format=xlsx"),
            ..base(&state, Some(&user))
        },
        StatusCode::OK,
    )
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "The year's CSV (UTF-8 with a BOM) or xlsx workbook, as a download"),
        (status = 303, description = "Not signed in: to the sign-in page, which returns here"),
        (status = 403, description = "Counsellors: for supervisors only", content_type = "text/html"),
        (status = 422, description = "A year, suppression or format that cannot be", content_type = "text/html"),
    )
)]
#[get("/desk/statistics/download")]
pub async fn download(
    state: web::Data<AppState>,
    user: DeskUser,
    asked: web::Query<Asked>,
) -> HttpResponse {
    let (year, suppress, format) = match read_params(
        asked.fiscal_year.as_deref(),
        chosen(&asked.suppress_below),
        asked.format.as_deref().or(Some("csv")),
    ) {
        Ok((_, _, Format::Json)) => {
            let e = crate::http::error::ApiError::field("format", "invalid");
            return failed(&state, &user, &e, "/desk/statistics");
        }
        Ok(p) => p,
        Err(e) => return failed(&state, &user, &e, "/desk/statistics"),
    };
    let actor = user.session.actor.clone();
    let report = match blocking(&state, move |st, conn| {
        desk::case::report(st, conn, &actor, year, suppress)
    })
    .await
    {
        Ok(r) => r,
        Err(e) => return failed(&state, &user, &e, "/desk"),
    };
    match answer(&state, &report, format) {
        Ok(r) => r,
        Err(e) => failed(&state, &user, &e, "/desk/statistics"),
    }
}

/// The form's suppression field left empty means none chosen.
fn chosen(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.is_empty())
}
