//! Schemas of query parameters whose words or formats the handlers enforce, so the document
//! says exactly what the server takes.

use serde::Deserialize;
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

/// A JSON body that must be an object. serde reads a struct from an array too (`[null]` as a
/// patch that changes nothing); the document says object, so an array is refused as bad JSON.
pub struct Object<T>(pub T);

impl<'de, T: serde::de::DeserializeOwned> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = serde_json::Map::deserialize(d)?;
        serde_json::from_value(serde_json::Value::Object(map))
            .map(Object)
            .map_err(serde::de::Error::custom)
    }
}

/// Who a ticket goes to: a staff id, `"me"`, or null for nobody.
pub fn assignee_ref() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))),
        )
        .item(words(&["me"]))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// JSON Schema counts `7.0` as an integer; serde's `i64` does not. Ids are read as either.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        // Any whole value an i64 holds: an id that large names nothing and answers 404 or 422
        // later, as the same id written without `.0` does.
        Some(f) if f.fract() == 0.0 && (i64::MIN as f64..i64::MAX as f64).contains(&f) => {
            Ok(f as i64)
        }
        _ => Err(serde::de::Error::custom("expected a whole number")),
    }
}

pub fn whole_number_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole_number")] i64);
    Ok(Option::<Whole>::deserialize(d)?.map(|w| w.0))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize, Debug)]
    struct Id(#[serde(deserialize_with = "super::whole_number")] i64);

    fn read(json: &str) -> Result<i64, serde_json::Error> {
        serde_json::from_str::<Id>(json).map(|id| id.0)
    }

    #[test]
    fn a_whole_number_is_read_however_json_writes_it() {
        assert_eq!(read("7").unwrap(), 7);
        assert_eq!(read("7.0").unwrap(), 7);
        assert_eq!(read("-3.0").unwrap(), -3);
        // What schemathesis sent: 2^53 - 1 written as a float, an integer to JSON Schema.
        // serde_json reads a float that long to the nearest step it parses, not to the
        // digit; an id that large names nothing either way, so it only has to be taken.
        assert!(
            read("9007199254740991.0")
                .unwrap()
                .abs_diff(9_007_199_254_740_991)
                < 8
        );
        assert_eq!(read("123456789.0").unwrap(), 123_456_789);
        assert_eq!(read("1e18").unwrap(), 1_000_000_000_000_000_000);
    }

    #[test]
    fn a_fraction_or_a_value_past_i64_is_refused() {
        assert!(read("7.5").is_err());
        assert!(read("1e19").is_err());
        assert!(read("-1e19").is_err());
        assert!(read("\"7\"").is_err());
    }
}
