//! Schemas of query parameters whose words or formats the handlers enforce, so the document
//! says exactly what the server takes.

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, RefOr};

fn string_of(format: KnownFormat) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(format)))
}

/// A report's instant: RFC 3339, or a plain date read as 00:00 in the centre's zone.
pub fn instant() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(string_of(KnownFormat::DateTime))
        .item(string_of(KnownFormat::Date))
        .into()
}

fn words(words: &[&str]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(words.iter().copied()))
        .into()
}

/// The overdue report's formats.
pub fn report_format() -> RefOr<Schema> {
    words(&["json", "csv"])
}

/// How the SLA report groups its rows.
pub fn sla_group() -> RefOr<Schema> {
    words(&["month", "counsellor"])
}

/// Who the consulter is to the person the consultation is about.
pub fn relationship() -> RefOr<Schema> {
    words(&["self", "family", "other"])
}

/// A staff decision on an urgent-risk flag.
pub fn triage_decision() -> RefOr<Schema> {
    words(&["confirm", "clear"])
}

/// Consent, which a consultation cannot be taken without.
pub fn must_be_true() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .into()
}
