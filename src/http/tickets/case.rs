//! Case fields over the API (CONTRACT §9): the fields with their codes, and a ticket's fields
//! set by staff. Codes are the centre's (`statistics.file`); an unknown one is 422 naming the
//! field.

use actix_web::{HttpResponse, get, put, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};

use crate::desk;
use crate::desk::auth::Session;
use crate::domain::case_fields::{CaseFields, CaseRecord};
use crate::domain::vocabulary::TicketId;
use crate::http::blocking;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::gate::AfterAuth;
use crate::state::AppState;

fn code_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[a-z0-9_]{1,40}$"))
        .description(Some("One of the field's codes in GET /api/v1/case-fields"))
}

/// One code, or null to clear the field.
fn one_code() -> RefOr<Schema> {
    code_schema()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .into()
}

/// Codes of a field that takes several; an empty list (or null) clears it.
fn codes() -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(code_schema())
        .max_items(Some(40))
        .into()
}

/// A key that is there (even as null) is `Some`; one left out is `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// Any of the fields; those left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = one_code)]
    writer: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = one_code)]
    person_sex: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = one_code)]
    person_age_band: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = one_code)]
    ward: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = one_code)]
    withdrawal_years: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = codes)]
    purposes: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = codes)]
    prior_agencies: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = codes)]
    referred_to: Option<Option<Vec<String>>>,
}

impl CaseRequest {
    fn record(self) -> CaseRecord {
        let mut r = CaseRecord::default();
        let singles = [
            ("writer", self.writer),
            ("person_sex", self.person_sex),
            ("person_age_band", self.person_age_band),
            ("ward", self.ward),
            ("withdrawal_years", self.withdrawal_years),
        ];
        for (name, value) in singles {
            // A single field's "" clears it, as null does (the served schema lists "" among
            // its values); inside a list an empty code is refused.
            if let Some(v) = value {
                r.set(name, v.into_iter().filter(|c| !c.is_empty()).collect());
            }
        }
        let lists = [
            ("purposes", self.purposes),
            ("prior_agencies", self.prior_agencies),
            ("referred_to", self.referred_to),
        ];
        for (name, value) in lists {
            if let Some(v) = value {
                r.set(name, v.unwrap_or_default());
            }
        }
        r
    }
}

/// A ticket's case fields as recorded: a code or null, or a list of codes.
#[derive(Serialize, ToSchema)]
pub struct CaseOut {
    writer: Option<String>,
    person_sex: Option<String>,
    person_age_band: Option<String>,
    ward: Option<String>,
    withdrawal_years: Option<String>,
    purposes: Vec<String>,
    prior_agencies: Vec<String>,
    referred_to: Vec<String>,
}

impl CaseOut {
    pub fn of(r: &CaseRecord) -> Self {
        let one = |n: &str| r.codes(n).first().cloned();
        let all = |n: &str| r.codes(n).to_vec();
        Self {
            writer: one("writer"),
            person_sex: one("person_sex"),
            person_age_band: one("person_age_band"),
            ward: one("ward"),
            withdrawal_years: one("withdrawal_years"),
            purposes: all("purposes"),
            prior_agencies: all("prior_agencies"),
            referred_to: all("referred_to"),
        }
    }
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = CaseRequest,
    responses(
        (status = 200, description = "Recorded; the ticket's case fields as they are now", body = CaseOut),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "A code the field does not have: the field is named", body = ErrorBody),
    )
)]
#[put("/tickets/{id}/case")]
pub async fn set(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<TicketId>,
    // An object only: serde would also read a struct from a JSON array.
    body: AfterAuth<web::Json<serde_json::Map<String, serde_json::Value>>>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.into_inner();
    let request: CaseRequest = match serde_json::from_value(serde_json::Value::Object(body.clone()))
    {
        Ok(r) => r,
        // Valid JSON with a value of the wrong shape: name each such field, as any 422 does.
        Err(_) => return Err(ApiError::Invalid(wrong_shapes(&body))),
    };
    let record = request.record();
    let now = blocking(&state, move |st, conn| {
        desk::case::set(st, conn, &user.actor, id, &record)?;
        desk::case::of(conn, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(CaseOut::of(&now)))
}

/// The known fields whose value is neither null nor of the field's kind (a code, or a list of codes).
fn wrong_shapes(
    body: &serde_json::Map<String, serde_json::Value>,
) -> Vec<(&'static str, &'static str)> {
    use serde_json::Value;
    fn code(v: &Value) -> bool {
        v.is_null() || v.is_string()
    }
    fn codes(v: &Value) -> bool {
        v.is_null() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    }
    type Fits = fn(&Value) -> bool;
    let kinds: [(&'static str, Fits); 8] = [
        ("writer", code),
        ("person_sex", code),
        ("person_age_band", code),
        ("ward", code),
        ("withdrawal_years", code),
        ("purposes", codes),
        ("prior_agencies", codes),
        ("referred_to", codes),
    ];
    let wrong: Vec<_> = kinds
        .iter()
        .filter(|(name, fits)| body.get(*name).is_some_and(|v| !fits(v)))
        .map(|(name, _)| (*name, "invalid_type"))
        .collect();
    if wrong.is_empty() {
        vec![("body", "invalid_type")]
    } else {
        wrong
    }
}

#[derive(Serialize, ToSchema)]
pub struct CodeOut {
    code: String,
    label: String,
}

#[derive(Serialize, ToSchema)]
pub struct FieldOut {
    /// One of writer, person_sex, person_age_band, ward, withdrawal_years, purposes,
    /// prior_agencies, referred_to.
    name: String,
    label: String,
    /// Whether the field takes several codes.
    multiple: bool,
    codes: Vec<CodeOut>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseFieldsOut {
    fields: Vec<FieldOut>,
}

impl CaseFieldsOut {
    fn of(f: &CaseFields) -> Self {
        Self {
            fields: f
                .fields
                .iter()
                .map(|f| FieldOut {
                    name: f.name.into(),
                    label: f.label.clone(),
                    multiple: f.multiple,
                    codes: f
                        .codes
                        .iter()
                        .map(|c| CodeOut {
                            code: c.code.clone(),
                            label: c.label.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The case fields with their codes and Japanese labels", body = CaseFieldsOut),
        (status = 401, body = ErrorBody),
    )
)]
#[get("/case-fields")]
pub async fn fields(state: web::Data<AppState>, _user: Session) -> HttpResponse {
    HttpResponse::Ok().json(CaseFieldsOut::of(&state.case_fields))
}
