//! What the derived OpenAPI document cannot say by itself, added to its JSON once at start:
//! the case-field codes of this centre's statistics file (they come from configuration), a
//! rule between two fields of a consultation, and a required query parameter that the
//! handler reads as optional to answer its own 422.

use serde_json::{Value, json};

use crate::domain::case_fields::CaseFields;

pub fn finish(doc: &mut Value, case_fields: &CaseFields) {
    case_codes(doc, case_fields);
    notice_needs_passphrase(doc);
    fiscal_year_required(doc);
}

/// `PUT /api/v1/tickets/{id}/case` takes only the codes of the centre's own file.
fn case_codes(doc: &mut Value, case_fields: &CaseFields) {
    let Some(props) = doc
        .pointer_mut("/components/schemas/CaseRequest/properties")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for field in &case_fields.fields {
        let codes: Vec<Value> = field.codes.iter().map(|c| json!(c.code)).collect();
        let Some(p) = props.get_mut(field.name).and_then(Value::as_object_mut) else {
            continue;
        };
        if field.multiple {
            // null clears the field, as an empty list does.
            p.insert("type".into(), json!(["array", "null"]));
            // Repeats are taken once, so a list may be as long as the body allows.
            p.remove("maxItems");
            if let Some(items) = p.get_mut("items").and_then(Value::as_object_mut) {
                items.remove("pattern");
                items.insert("enum".into(), Value::Array(codes));
            }
        } else {
            p.remove("pattern");
            let mut with_null = codes;
            // null, or an empty string, clears the field.
            with_null.push(json!(""));
            with_null.push(Value::Null);
            p.insert("enum".into(), Value::Array(with_null));
        }
    }
}

/// Notices only point to the consulter's page, which opens only with a passphrase.
fn notice_needs_passphrase(doc: &mut Value) {
    if let Some(schema) = doc
        .pointer_mut("/components/schemas/ConsultationRequest")
        .and_then(Value::as_object_mut)
    {
        schema.insert(
            "if".into(),
            json!({"properties": {"notice_only": {"const": true}}, "required": ["notice_only"]}),
        );
        schema.insert(
            "then".into(),
            json!({"required": ["passphrase"], "properties": {"passphrase": {"type": "string"}}}),
        );
    }
}

fn fiscal_year_required(doc: &mut Value) {
    if let Some(params) = doc
        .pointer_mut("/paths/~1api~1v1~1reports~1statistics/get/parameters")
        .and_then(Value::as_array_mut)
    {
        for p in params {
            if p["name"] == "fiscal_year" {
                p["required"] = json!(true);
            }
        }
    }
}
