//! What a consultation from the form or the public API must hold, checked without I/O.

use serde_json::Value;

/// The fields as they arrived, before any check. Form posts and JSON both end up here.
#[derive(Debug, Default, Clone)]
pub struct RawConsultation {
    pub name: Option<String>,
    pub email: Option<String>,
    pub relationship: Option<String>,
    pub age_group: Option<String>,
    pub area: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub consent: bool,
    /// For the consulter's own page (/my); `None` or empty on a form: not chosen.
    pub passphrase: Option<String>,
    /// Mail to the consulter says only that something is waiting, with the page's link.
    pub notice_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relationship {
    /// The person withdrawn from society writes themself.
    OneSelf,
    Family,
    Other,
}

impl Relationship {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneSelf => "self",
            Self::Family => "family",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "self" => Some(Self::OneSelf),
            "family" => Some(Self::Family),
            "other" => Some(Self::Other),
            _ => None,
        }
    }
}

/// A consultation that passed every check; text is trimmed and free of control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consultation {
    pub name: Option<String>,
    /// Lower-cased in the domain part only: the local part may be case-sensitive.
    pub email: String,
    pub relationship: Relationship,
    pub age_group: Option<String>,
    pub area: Option<String>,
    pub subject: String,
    pub body: String,
    /// The passphrase the consulter's page opens with, as typed (hashed before it is kept).
    pub passphrase: Option<Passphrase>,
    /// Only with a passphrase: a notice that points to a page that cannot be opened helps
    /// nobody.
    pub notice_only: bool,
}

/// A passphrase as typed: never printed, so it cannot slip into a log through `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Passphrase(String);

impl Passphrase {
    pub fn new(typed: &str) -> Self {
        Self(typed.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// 合言葉: long enough not to be guessed in the few tries allowed, short enough to type.
pub const PASSPHRASE_MIN: usize = 8;
pub const PASSPHRASE_MAX: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    /// Stable, for programs: `required`, `too_long`, `invalid`, `must_be_true`, `wrong_type`.
    pub code: &'static str,
    /// For the person filling in the form.
    pub message_ja: &'static str,
}

pub struct Limits {
    pub max_body_chars: usize,
}

const CHOOSE_RELATIONSHIP: &str = "ご本人・ご家族・その他のいずれかを選んでください。";
const MAX_NAME: usize = 100;
const MAX_SHORT: usize = 100;
const MAX_SUBJECT: usize = 200;
const MAX_EMAIL: usize = 254;

pub fn validate(raw: &RawConsultation, limits: &Limits) -> Result<Consultation, Vec<FieldError>> {
    let mut errors = Vec::new();
    // `required`: what to ask of a person who left the field empty, in the field's own words.
    let mut text = |field: &'static str,
                    value: &Option<String>,
                    max: usize,
                    required: Option<&'static str>| {
        let cleaned = value.as_deref().map(clean_text).unwrap_or_default();
        // Only the text runs over lines; a name or subject is one line (it heads mails).
        let cleaned = if field == "body" {
            cleaned
        } else {
            crate::domain::inbound::one_line(&cleaned)
        };
        // A one-line field is measured as sent, so the limit is the one the API documents; the
        // body is measured cleaned (a form sends CRLF line ends).
        let length = if field == "body" {
            cleaned.chars().count()
        } else {
            value.as_deref().map_or(0, |v| v.chars().count())
        };
        if length > max {
            errors.push(FieldError {
                field,
                code: "too_long",
                message_ja: "長すぎます。短くしてください。",
            });
            None
        } else if cleaned.is_empty() {
            if let Some(message_ja) = required {
                errors.push(FieldError {
                    field,
                    code: "required",
                    message_ja,
                });
            }
            None
        } else {
            Some(cleaned)
        }
    };
    let name = text("name", &raw.name, MAX_NAME, None);
    let email = text(
        "email",
        &raw.email,
        MAX_EMAIL,
        Some("お返事をお送りするメールアドレスを入力してください。"),
    );
    let relationship = text(
        "relationship",
        &raw.relationship,
        MAX_SHORT,
        Some(CHOOSE_RELATIONSHIP),
    );
    let age_group = text("age_group", &raw.age_group, MAX_SHORT, None);
    let area = text("area", &raw.area, MAX_SHORT, None);
    let subject = text(
        "subject",
        &raw.subject,
        MAX_SUBJECT,
        Some("件名を入力してください。短いひとことでかまいません。"),
    );
    let body = text(
        "body",
        &raw.body,
        limits.max_body_chars,
        Some("ご相談の内容を入力してください。"),
    );

    let email = email.and_then(|e| {
        let normalised = normalise_email(&e);
        if normalised.is_none() {
            errors.push(FieldError {
                field: "email",
                code: "invalid",
                message_ja: "メールアドレスの形式をご確認ください（例: name@example.jp）。",
            });
        }
        normalised
    });
    let relationship = relationship.and_then(|r| {
        let parsed = Relationship::parse(&r);
        if parsed.is_none() {
            errors.push(FieldError {
                field: "relationship",
                code: "invalid",
                message_ja: CHOOSE_RELATIONSHIP,
            });
        }
        parsed
    });
    let passphrase = passphrase(raw, &mut errors);
    if !raw.consent {
        errors.push(FieldError {
            field: "consent",
            code: "must_be_true",
            // In the words of the consent the form asks for.
            message_ja: "ご相談の内容を相談への対応のためだけに使い、秘密を守ることへの同意が必要です。\
                         よろしければ、チェックを入れてください。",
        });
    }
    match (email, relationship, subject, body) {
        (Some(email), Some(relationship), Some(subject), Some(body)) if errors.is_empty() => {
            Ok(Consultation {
                name,
                email,
                relationship,
                age_group,
                area,
                subject,
                body,
                passphrase,
                notice_only: raw.notice_only,
            })
        }
        _ => Err(errors),
    }
}

/// The passphrase as typed (not trimmed: it is a secret, typed the same way each time).
fn passphrase(raw: &RawConsultation, errors: &mut Vec<FieldError>) -> Option<Passphrase> {
    let length = raw.passphrase.as_deref().map(|p| p.chars().count());
    let error = |code, message_ja| FieldError {
        field: "passphrase",
        code,
        message_ja,
    };
    match length {
        Some(n) if n < PASSPHRASE_MIN => errors.push(error(
            "too_short",
            "合言葉は8文字以上にしてください。短い言葉をいくつかつなげると、覚えやすく当てられにくくなります。",
        )),
        Some(n) if n > PASSPHRASE_MAX => errors.push(error(
            "too_long",
            "合言葉は128文字までにしてください。",
        )),
        Some(_) => return raw.passphrase.as_deref().map(Passphrase::new),
        None if raw.notice_only => errors.push(error(
            "required",
            "「お知らせだけ送る」を選ぶときは、お返事を読むための合言葉を決めてください。",
        )),
        None => {}
    }
    None
}

/// Checks a JSON body: wrong types and invalid values are reported together, per field.
pub fn validate_json(value: &Value, limits: &Limits) -> Result<Consultation, Vec<FieldError>> {
    let (raw, mut errors) = from_json(value);
    match validate(&raw, limits) {
        Ok(c) if errors.is_empty() => Ok(c),
        Ok(_) => Err(errors),
        Err(more) => {
            // A field of the wrong type was read as absent; keep only its type error.
            for e in more {
                if !errors.iter().any(|t| t.field == e.field) {
                    errors.push(e);
                }
            }
            Err(errors)
        }
    }
}

/// Reads a JSON body leniently so that a wrong type is reported per field, not as a parse error.
fn from_json(value: &Value) -> (RawConsultation, Vec<FieldError>) {
    let empty = serde_json::Map::new();
    let obj = value.as_object().unwrap_or(&empty);
    let mut errors = Vec::new();
    let mut string = |field: &'static str| match obj.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(FieldError {
                field,
                code: "wrong_type",
                message_ja: "文字列で送ってください。",
            });
            None
        }
    };
    let raw = RawConsultation {
        name: string("name"),
        email: string("email"),
        relationship: string("relationship"),
        age_group: string("age_group"),
        area: string("area"),
        subject: string("subject"),
        body: string("body"),
        passphrase: string("passphrase"),
        consent: obj.get("consent") == Some(&Value::Bool(true)),
        notice_only: obj.get("notice_only") == Some(&Value::Bool(true)),
    };
    for field in ["consent", "notice_only"] {
        if let Some(v) = obj.get(field)
            && !v.is_boolean()
            && !v.is_null()
        {
            errors.push(FieldError {
                field,
                code: "wrong_type",
                message_ja: "true か false で送ってください。",
            });
        }
    }
    (raw, errors)
}

/// Trims, drops control characters (PostgreSQL refuses NUL) and unifies line ends.
pub fn clean_text(s: &str) -> String {
    s.replace("\r\n", "\n")
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect::<String>()
        .trim()
        .to_string()
}

/// A deliberately plain check: one @, a dotted domain, no spaces. Mail to an address that
/// passes but does not exist bounces, and the bounce is handled by intake.
pub fn normalise_email(s: &str) -> Option<String> {
    let s = s.trim();
    let (local, domain) = s.rsplit_once('@')?;
    let ok_local = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && local
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>');
    let ok_domain = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    (ok_local && ok_domain).then(|| format!("{local}@{}", domain.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMITS: Limits = Limits {
        max_body_chars: 100,
    };

    fn good() -> RawConsultation {
        RawConsultation {
            name: Some("  山田 花子 ".into()),
            email: Some("Hanako@Example.JP".into()),
            relationship: Some("family".into()),
            age_group: Some("20代".into()),
            area: None,
            subject: Some("息子のことで".into()),
            body: Some("はじめて相談します。\r\nよろしくお願いします。\u{0}".into()),
            consent: true,
            ..RawConsultation::default()
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors.iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn a_good_consultation_is_cleaned() {
        let c = validate(&good(), &LIMITS).unwrap();
        assert_eq!(c.name.as_deref(), Some("山田 花子"));
        assert_eq!(c.email, "Hanako@example.jp");
        assert_eq!(c.relationship, Relationship::Family);
        assert_eq!(c.body, "はじめて相談します。\nよろしくお願いします。");
        assert_eq!(c.area, None);
    }

    #[test]
    fn a_one_line_field_is_measured_as_sent() {
        // 100 characters as the document counts them, with control characters the cleaning
        // drops, or blanks alone: over the limit either way.
        let padded = format!("白石区{}", "\u{15}".repeat(98));
        let blanks = " ".repeat(101);
        let raw = RawConsultation {
            area: Some(padded),
            name: Some(blanks),
            ..good()
        };
        let errors = validate(&raw, &LIMITS).unwrap_err();
        assert_eq!(
            fields(&errors),
            vec![("name", "too_long"), ("area", "too_long")]
        );
        let exact = RawConsultation {
            area: Some("区".repeat(100)),
            ..good()
        };
        assert!(validate(&exact, &LIMITS).is_ok());
    }

    #[test]
    fn names_and_subjects_are_one_line() {
        let raw = RawConsultation {
            name: Some("山田\r\n花子\n\n様".into()),
            subject: Some("息子の\nこと".into()),
            area: Some("白石区\t\n".into()),
            ..good()
        };
        let c = validate(&raw, &LIMITS).unwrap();
        assert_eq!(c.name.as_deref(), Some("山田 花子 様"));
        assert_eq!(c.subject, "息子の こと");
        assert_eq!(c.area.as_deref(), Some("白石区"));
        assert_eq!(c.body, "はじめて相談します。\nよろしくお願いします。");
    }

    #[test]
    fn every_offending_field_is_named() {
        let raw = RawConsultation {
            email: Some("not-an-address".into()),
            relationship: Some("cousin".into()),
            subject: Some("   ".into()),
            body: Some("あ".repeat(101)),
            consent: false,
            ..RawConsultation::default()
        };
        let errors = validate(&raw, &LIMITS).unwrap_err();
        assert_eq!(
            fields(&errors),
            vec![
                ("subject", "required"),
                ("body", "too_long"),
                ("email", "invalid"),
                ("relationship", "invalid"),
                ("consent", "must_be_true"),
            ]
        );
    }

    #[test]
    fn each_empty_field_is_asked_for_in_its_own_words() {
        let errors = validate(&RawConsultation::default(), &LIMITS).unwrap_err();
        let said = |field: &str| {
            errors
                .iter()
                .find(|e| e.field == field)
                .map(|e| e.message_ja)
                .unwrap_or_else(|| panic!("{field} is not asked for"))
        };
        assert!(said("email").contains("メールアドレスを入力"));
        assert!(said("subject").contains("件名を入力"));
        assert!(said("body").contains("ご相談の内容を入力"));
        // A choice is chosen, not typed in.
        assert!(said("relationship").ends_with("選んでください。"));
        // In the words of the consent the form asks for.
        assert!(said("consent").contains("相談への対応のためだけに使い、秘密を守る"));
        assert!(errors.iter().all(|e| e.message_ja != "入力してください。"));
        assert!(
            !errors
                .iter()
                .any(|e| ["name", "area", "age_group"].contains(&e.field))
        );
    }

    #[test]
    fn a_passphrase_is_8_to_128_characters_and_needed_for_notices_only() {
        let with = |p: Option<&str>, notice_only| RawConsultation {
            passphrase: p.map(str::to_string),
            notice_only,
            ..good()
        };
        let c = validate(&with(Some("かぎ かっこ"), false), &LIMITS);
        assert_eq!(fields(&c.unwrap_err()), vec![("passphrase", "too_short")]);
        let c = validate(&with(Some("ひまわり畑の朝"), true), &LIMITS);
        assert_eq!(fields(&c.unwrap_err()), vec![("passphrase", "too_short")]);
        let c = validate(&with(Some("ひまわり畑の朝ごはん"), true), &LIMITS).unwrap();
        assert_eq!(
            c.passphrase.as_ref().map(Passphrase::expose),
            Some("ひまわり畑の朝ごはん")
        );
        assert!(c.notice_only);
        assert_eq!(format!("{:?}", c.passphrase), "Some(Passphrase(..))");
        let long = "あ".repeat(129);
        let c = validate(&with(Some(&long), false), &LIMITS);
        assert_eq!(fields(&c.unwrap_err()), vec![("passphrase", "too_long")]);
        assert!(validate(&with(Some(&"あ".repeat(128)), false), &LIMITS).is_ok());
        let c = validate(&with(None, true), &LIMITS);
        assert_eq!(fields(&c.unwrap_err()), vec![("passphrase", "required")]);
        let c = validate(&with(None, false), &LIMITS).unwrap();
        assert_eq!((c.passphrase, c.notice_only), (None, false));
    }

    #[test]
    fn emails() {
        for ok in ["a@b.jp", "a.b+c@mail.example.co.jp", "\"x\"@d.org"] {
            assert!(normalise_email(ok).is_some(), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.jp", "a@.jp", "a@b..jp", "a b@c.jp", "a@b.jp>", "あ@b.jp",
        ] {
            assert!(normalise_email(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn json_types_and_values_are_checked_per_field() {
        let errors = validate_json(
            &json!({"email": 3, "consent": "yes", "body": ["x"], "relationship": "cousin"}),
            &LIMITS,
        )
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            vec![
                ("email", "wrong_type"),
                ("body", "wrong_type"),
                ("consent", "wrong_type"),
                ("subject", "required"),
                ("relationship", "invalid"),
            ]
        );
        let errors = validate_json(&json!([1]), &LIMITS).unwrap_err();
        assert!(fields(&errors).contains(&("email", "required")));
        let ok = validate_json(
            &json!({"email": "a@b.jp", "relationship": "self", "subject": "s", "body": "b",
                    "consent": true, "name": null}),
            &LIMITS,
        )
        .unwrap();
        assert_eq!(ok.name, None);
    }
}
