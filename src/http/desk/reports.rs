//! The supervisors' report pages (CONTRACT §7): 期限超過 (overdue) and 達成状況 (SLA compliance,
//! chart and table), with their CSV; the urgent report is in `urgent.rs`. The figures come from the same desk
//! functions as `/api/v1/reports/*`; these handlers only put them into words.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::chart::{self, Point};
use super::{DeskUser, base, failed, message, percent_encode, render, supervisors_only, words};
use crate::desk::{self, reports::OverdueLine};
use crate::domain::sla::{GroupBy, Row};
use crate::http::{blocking, report_csv};
use crate::state::AppState;

pub(super) fn unreadable(state: &AppState, user: &DeskUser, back: &str) -> HttpResponse {
    message(
        state,
        Some(user),
        "日付を読み取れませんでした",
        "日付を選び直してください（例：2026-12-01）。始めの日は終わりの日より前にしてください。",
        back,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// A date field: empty is none; otherwise 00:00 of that date in the centre's zone.
pub(super) fn date_field(state: &AppState, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ()> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(r) => crate::domain::instant::parse(r, state.rules.tz)
            .map(Some)
            .ok_or(()),
    }
}

pub(super) fn local_date(state: &AppState, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&state.rules.tz).date_naive()
}

#[derive(Deserialize)]
pub struct OverdueForm {
    as_of: Option<String>,
}

#[derive(Serialize)]
struct OverdueShown {
    id: i64,
    reference: String,
    subject: String,
    assignee: Option<String>,
    started: String,
    due: String,
    hours: String,
    urgent: bool,
    status: &'static str,
}

fn overdue_shown(state: &AppState, l: OverdueLine) -> OverdueShown {
    OverdueShown {
        id: l.id.0,
        reference: l.reference,
        subject: l.subject,
        assignee: l.assignee.map(|(_, n)| n),
        started: words::when(state, l.clock_started_at),
        due: words::when(state, l.reply_due_at),
        hours: l.overdue_hours.to_string(),
        urgent: l.urgent,
        status: words::status(l.status),
    }
}

/// The instant of the overdue report: a date chosen, or now (the page and its CSV alike).
fn overdue_at(state: &AppState, form: &OverdueForm) -> Result<DateTime<Utc>, ()> {
    match form.as_of.as_deref().map(str::trim) {
        None | Some("") => Ok(state.time.now()),
        Some(r) => crate::domain::instant::parse(r, state.rules.tz).ok_or(()),
    }
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "期限超過: tickets past their reply time at the instant shown", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
        (status = 422, description = "The date cannot be read", content_type = "text/html"),
    )
)]
#[get("/desk/overdue")]
pub async fn overdue(
    state: web::Data<AppState>,
    user: DeskUser,
    form: web::Query<OverdueForm>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let Ok(at) = overdue_at(&state, &form) else {
        return unreadable(&state, &user, "/desk/overdue");
    };
    let actor = user.session.actor.clone();
    let lines = match blocking(&state, move |st, conn| {
        desk::reports::overdue(st, conn, &actor, at)
    })
    .await
    {
        Ok(l) => l,
        Err(e) => return failed(&state, &user, &e, "/desk"),
    };
    let lines: Vec<OverdueShown> = lines
        .into_iter()
        .map(|l| overdue_shown(&state, l))
        .collect();
    let as_of_value = form.as_of.clone().unwrap_or_default();
    render(
        &state,
        "desk/overdue.html",
        context! {
            lines,
            as_of => words::when(&state, at),
            as_of_value,
            csv => format!("/desk/overdue.csv?as_of={}", percent_encode(&at.with_timezone(&state.rules.tz).to_rfc3339())),
            current => "overdue",
            ..base(&state, Some(&user))
        },
        StatusCode::OK,
    )
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "The overdue report as CSV for Excel (the API's document)", content_type = "text/csv"),
        (status = 303, description = "Not signed in: to the sign-in page"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
        (status = 422, description = "The date cannot be read", content_type = "text/html"),
    )
)]
#[get("/desk/overdue.csv")]
pub async fn overdue_csv(
    state: web::Data<AppState>,
    user: DeskUser,
    form: web::Query<OverdueForm>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let Ok(at) = overdue_at(&state, &form) else {
        return unreadable(&state, &user, "/desk/overdue");
    };
    let actor = user.session.actor.clone();
    match blocking(&state, move |st, conn| {
        desk::reports::overdue(st, conn, &actor, at)
    })
    .await
    {
        Ok(lines) => report_csv::download(
            &report_csv::overdue_name(&state, at),
            report_csv::overdue(&state, &lines),
        ),
        Err(e) => failed(&state, &user, &e, "/desk/overdue"),
    }
}

#[derive(Deserialize)]
pub struct SlaForm {
    /// `YYYY-MM`, the first month counted.
    from: Option<String>,
    /// `YYYY-MM`, the last month counted.
    to: Option<String>,
    group_by: Option<String>,
}

fn month_start(state: &AppState, ym: &str) -> Option<(DateTime<Utc>, NaiveDate)> {
    let ym = ym.trim();
    let well_formed = ym.len() == 7 && ym.as_bytes()[4] == b'-';
    let day = NaiveDate::parse_from_str(&format!("{ym}-01"), "%Y-%m-%d").ok()?;
    let at = crate::domain::instant::parse(&day.format("%Y-%m-%d").to_string(), state.rules.tz)?;
    well_formed.then_some((at, day))
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("the first of a month")
}

/// The months counted: those chosen, or the six up to this one. `[from, to)` as instants,
/// and the months as the form shows them.
fn sla_window(
    state: &AppState,
    form: &SlaForm,
) -> Option<(DateTime<Utc>, DateTime<Utc>, String, String)> {
    let today = local_date(state, state.time.now());
    let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1)?;
    let mut six_back = this_month;
    for _ in 0..5 {
        six_back = (six_back - Duration::days(1)).with_day(1)?;
    }
    let pick = |v: &Option<String>, default: NaiveDate| match v.as_deref().map(str::trim) {
        None | Some("") => default.format("%Y-%m").to_string(),
        Some(v) => v.to_string(),
    };
    let (from_m, to_m) = (pick(&form.from, six_back), pick(&form.to, this_month));
    let (from, _) = month_start(state, &from_m)?;
    let (_, last) = month_start(state, &to_m)?;
    let to = crate::domain::instant::parse(
        &next_month(last).format("%Y-%m-%d").to_string(),
        state.rules.tz,
    )?;
    (from < to).then_some((from, to, from_m, to_m))
}

fn month_words(key: &str) -> String {
    match key.split_once('-') {
        Some((y, m)) => format!("{y}年{}月", m.trim_start_matches('0')),
        None => key.to_string(),
    }
}

fn hours(v: Option<f64>) -> String {
    v.map_or("—".to_string(), |h| format!("{h}時間"))
}

#[derive(Serialize)]
struct SlaShown {
    label: String,
    due: usize,
    met: usize,
    breached: usize,
    still_open: usize,
    compliance: String,
    median: String,
    p90: String,
}

fn sla_shown(by: GroupBy, rows: &[Row]) -> (Vec<SlaShown>, Vec<Point>) {
    let label = |key: &str| match by {
        GroupBy::Month => month_words(key),
        GroupBy::Counsellor => report_csv::sla_key(by, key),
    };
    let shown = rows
        .iter()
        .map(|r| SlaShown {
            label: label(&r.key),
            due: r.due,
            met: r.met,
            breached: r.breached,
            still_open: r.still_open,
            compliance: r
                .compliance_pct
                .map_or("—".to_string(), |p| format!("{p}%")),
            median: hours(r.median_reply_hours),
            p90: hours(r.p90_reply_hours),
        })
        .collect();
    let points = rows
        .iter()
        .map(|r| Point {
            label: label(&r.key),
            pct: r.compliance_pct,
            met: r.met,
            decided: r.met + r.breached,
        })
        .collect();
    (shown, points)
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "達成状況: compliance by month and by counsellor, as charts and tables", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
        (status = 422, description = "The months cannot be read", content_type = "text/html"),
    )
)]
#[get("/desk/sla")]
pub async fn sla(
    state: web::Data<AppState>,
    user: DeskUser,
    form: web::Query<SlaForm>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let Some((from, to, from_m, to_m)) = sla_window(&state, &form) else {
        return unreadable(&state, &user, "/desk/sla");
    };
    let actor = user.session.actor.clone();
    let figures = blocking(&state, move |st, conn| {
        Ok::<_, crate::http::error::ApiError>((
            desk::reports::sla(st, conn, &actor, from, to, GroupBy::Month)?,
            desk::reports::sla(st, conn, &actor, from, to, GroupBy::Counsellor)?,
        ))
    })
    .await;
    let (months, counsellors) = match figures {
        Ok(f) => f,
        Err(e) => return failed(&state, &user, &e, "/desk"),
    };
    let (month_rows, month_points) = sla_shown(GroupBy::Month, &months);
    let (counsellor_rows, counsellor_points) = sla_shown(GroupBy::Counsellor, &counsellors);
    let last_day = local_date(&state, to) - Duration::days(1);
    let csv = |by: &str| {
        format!(
            "/desk/sla.csv?from={}&to={}&group_by={by}",
            percent_encode(&from_m),
            percent_encode(&to_m)
        )
    };
    render(
        &state,
        "desk/sla.html",
        context! {
            window => format!(
                "{}から{}まで",
                crate::domain::jpdate::date_ja(&from.with_timezone(&state.rules.tz)),
                crate::domain::jpdate::date_ja(&last_day.and_hms_opt(0, 0, 0).expect("midnight").and_utc()),
            ),
            from_m, to_m,
            sections => [
                context! {
                    id => "months",
                    heading => "月ごとの達成率",
                    hint => None::<&str>,
                    rows => month_rows,
                    chart => chart::bars("月ごとの期限内返信率", &month_points),
                    caption => "月ごとの数字（グラフと同じ内容）",
                    key => "月",
                    csv => csv("month"),
                    csv_words => "月ごとの数字をCSV（Excel用）でダウンロード",
                },
                context! {
                    id => "counsellors",
                    heading => "担当ごとの達成率",
                    hint => Some("返信した人を、まだ返信していないものは担当者を数えています。"),
                    rows => counsellor_rows,
                    chart => chart::bars("担当ごとの期限内返信率", &counsellor_points),
                    caption => "担当ごとの数字（グラフと同じ内容）",
                    key => "担当",
                    csv => csv("counsellor"),
                    csv_words => "担当ごとの数字をCSV（Excel用）でダウンロード",
                },
            ],
            current => "sla",
            ..base(&state, Some(&user))
        },
        StatusCode::OK,
    )
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "Compliance as CSV for Excel (the API's document)", content_type = "text/csv"),
        (status = 303, description = "Not signed in: to the sign-in page"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
        (status = 422, description = "The months cannot be read", content_type = "text/html"),
    )
)]
#[get("/desk/sla.csv")]
pub async fn sla_csv(
    state: web::Data<AppState>,
    user: DeskUser,
    form: web::Query<SlaForm>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let by = match form.group_by.as_deref() {
        None | Some("month") => GroupBy::Month,
        Some("counsellor") => GroupBy::Counsellor,
        Some(_) => return unreadable(&state, &user, "/desk/sla"),
    };
    let Some((from, to, _, _)) = sla_window(&state, &form) else {
        return unreadable(&state, &user, "/desk/sla");
    };
    let actor = user.session.actor.clone();
    match blocking(&state, move |st, conn| {
        desk::reports::sla(st, conn, &actor, from, to, by)
    })
    .await
    {
        Ok(rows) => report_csv::download(
            &report_csv::sla_name(&state, from, to, by),
            report_csv::sla(by, &rows),
        ),
        Err(e) => failed(&state, &user, &e, "/desk/sla"),
    }
}
