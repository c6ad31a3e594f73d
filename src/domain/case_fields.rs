//! The case fields staff record on a ticket for the city's yearly figures (CONTRACT §9): who
//! wrote, the withdrawn person's sex, age band and ward, how long the withdrawal has lasted,
//! the purposes, earlier agencies and where the person was referred. Their codes and Japanese
//! labels come from `config/statistics.toml` (or a centre's own file), checked here once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The fields, in the order forms and reports show them; the last three take several codes.
pub const FIELD_NAMES: [&str; 8] = [
    "writer",
    "person_sex",
    "person_age_band",
    "ward",
    "withdrawal_years",
    "purposes",
    "prior_agencies",
    "referred_to",
];

const MULTIPLE: [&str; 3] = ["purposes", "prior_agencies", "referred_to"];

/// The key of "not recorded" in every table; no configured code may be it.
pub const UNKNOWN: &str = "unknown";
pub const UNKNOWN_LABEL: &str = "未記入";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Code {
    pub code: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CaseField {
    pub name: &'static str,
    pub label: String,
    pub multiple: bool,
    pub codes: Vec<Code>,
}

impl CaseField {
    pub fn label_of<'a>(&'a self, code: &'a str) -> &'a str {
        if code == UNKNOWN {
            return UNKNOWN_LABEL;
        }
        self.codes
            .iter()
            .find(|c| c.code == code)
            .map_or(code, |c| c.label.as_str())
    }

    fn knows(&self, code: &str) -> bool {
        self.codes.iter().any(|c| c.code == code)
    }
}

/// Every case field with its codes, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFields {
    pub fields: Vec<CaseField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    fields: Vec<FieldShape>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldShape {
    name: String,
    label: String,
    #[serde(default)]
    multiple: bool,
    codes: Vec<CodeShape>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeShape {
    code: String,
    label: String,
}

fn code_is_plain(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 40
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl CaseFields {
    /// Reads the file's text; the error names the field or code that is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shape: FileShape = toml::from_str(text).map_err(|e| {
            e.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })?;
        let mut by_name: BTreeMap<String, FieldShape> = BTreeMap::new();
        for f in shape.fields {
            if !FIELD_NAMES.contains(&f.name.as_str()) {
                return Err(format!(
                    "unknown field \"{}\" (the fields are {})",
                    f.name,
                    FIELD_NAMES.join(", ")
                ));
            }
            let name = f.name.clone();
            if by_name.insert(name.clone(), f).is_some() {
                return Err(format!("field \"{name}\" is listed twice"));
            }
        }
        let mut fields = Vec::new();
        for name in FIELD_NAMES {
            let f = by_name
                .remove(name)
                .ok_or_else(|| format!("field \"{name}\" is missing"))?;
            if f.label.trim().is_empty() {
                return Err(format!("field \"{name}\" needs a label"));
            }
            let multiple = MULTIPLE.contains(&name);
            if f.multiple != multiple {
                return Err(format!("field \"{name}\" must have multiple = {multiple}"));
            }
            if f.codes.is_empty() {
                return Err(format!("field \"{name}\" needs at least one code"));
            }
            let mut codes: Vec<Code> = Vec::new();
            for c in f.codes {
                if !code_is_plain(&c.code) || c.code == UNKNOWN {
                    return Err(format!(
                        "field \"{name}\": code \"{}\" must be lower-case letters, digits and _ (and not \"{UNKNOWN}\")",
                        c.code
                    ));
                }
                if c.label.trim().is_empty() {
                    return Err(format!(
                        "field \"{name}\": code \"{}\" needs a label",
                        c.code
                    ));
                }
                if codes.iter().any(|k| k.code == c.code) {
                    return Err(format!(
                        "field \"{name}\": code \"{}\" is listed twice",
                        c.code
                    ));
                }
                codes.push(Code {
                    code: c.code,
                    label: c.label.trim().to_string(),
                });
            }
            fields.push(CaseField {
                name,
                label: f.label.trim().to_string(),
                multiple,
                codes,
            });
        }
        Ok(Self { fields })
    }

    /// The built-in Sapporo defaults.
    pub fn built_in() -> Self {
        Self::parse(BUILT_IN).expect("config/statistics.toml is valid")
    }

    pub fn field(&self, name: &str) -> Option<&CaseField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks what staff chose: each code must be the field's, and a single field takes one.
    /// Offending fields are named, each once.
    pub fn check(&self, chosen: &CaseRecord) -> Result<(), Vec<(&'static str, &'static str)>> {
        let mut bad = Vec::new();
        for (name, codes) in &chosen.fields {
            let Some(field) = self.field(name) else {
                continue;
            };
            if !field.multiple && codes.len() > 1 {
                bad.push((field.name, "single_code"));
            } else if codes.iter().any(|c| !field.knows(c)) {
                bad.push((field.name, "unknown_code"));
            }
        }
        if bad.is_empty() { Ok(()) } else { Err(bad) }
    }
}

pub const BUILT_IN: &str = include_str!("../../config/statistics.toml");

/// What is recorded (or to be recorded) on one ticket: the codes of each field named.
/// An empty list clears the field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseRecord {
    pub fields: BTreeMap<&'static str, Vec<String>>,
}

impl CaseRecord {
    /// Sets a field by its name (one of [`FIELD_NAMES`]); codes are kept once each, in order.
    /// An empty code is kept too, for [`CaseFields::check`] to refuse: only a form's blank
    /// choice means "nothing", and the form drops it before it gets here.
    pub fn set(&mut self, name: &str, codes: Vec<String>) {
        if let Some(name) = FIELD_NAMES.iter().find(|n| **n == name) {
            let mut kept: Vec<String> = Vec::new();
            for c in codes {
                if !kept.contains(&c) {
                    kept.push(c);
                }
            }
            self.fields.insert(name, kept);
        }
    }

    pub fn codes(&self, name: &str) -> &[String] {
        self.fields.get(name).map_or(&[], Vec::as_slice)
    }

    /// The names of the fields given, for the audit (never their values).
    pub fn names(&self) -> Vec<&'static str> {
        FIELD_NAMES
            .iter()
            .copied()
            .filter(|n| self.fields.contains_key(n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_file_has_sapporos_wards_and_every_field() {
        let f = CaseFields::built_in();
        assert_eq!(
            f.fields.iter().map(|f| f.name).collect::<Vec<_>>(),
            FIELD_NAMES
        );
        let wards: Vec<&str> = f
            .field("ward")
            .unwrap()
            .codes
            .iter()
            .map(|c| c.label.as_str())
            .collect();
        assert_eq!(
            wards,
            [
                "中央区",
                "北区",
                "東区",
                "白石区",
                "厚別区",
                "豊平区",
                "清田区",
                "南区",
                "西区",
                "手稲区",
                "市外",
                "不明"
            ]
        );
        assert!(f.field("purposes").unwrap().multiple);
        assert!(!f.field("writer").unwrap().multiple);
    }

    #[test]
    fn a_bad_file_is_refused_with_the_reason() {
        let missing = BUILT_IN.replace("name = \"ward\"", "name = \"area\"");
        assert!(
            CaseFields::parse(&missing)
                .unwrap_err()
                .contains("unknown field \"area\"")
        );
        let twice = BUILT_IN.replace("code = \"kita\"", "code = \"chuo\"");
        assert!(
            CaseFields::parse(&twice)
                .unwrap_err()
                .contains("\"chuo\" is listed twice")
        );
        let unknown = BUILT_IN.replace("code = \"kita\"", "code = \"unknown\"");
        assert!(CaseFields::parse(&unknown).is_err());
        assert!(CaseFields::parse("fields = [").is_err());
    }

    #[test]
    fn choices_are_checked_against_the_codes() {
        let f = CaseFields::built_in();
        let mut r = CaseRecord::default();
        r.set("ward", vec!["kita".into()]);
        r.set(
            "purposes",
            vec!["family".into(), "money".into(), "family".into()],
        );
        assert_eq!(r.codes("purposes"), ["family", "money"]);
        assert_eq!(f.check(&r), Ok(()));
        r.set("writer", vec!["aunt".into()]);
        r.set("referred_to", vec!["medical".into(), "moon".into()]);
        assert_eq!(
            f.check(&r),
            Err(vec![
                ("referred_to", "unknown_code"),
                ("writer", "unknown_code")
            ])
        );
    }
}
