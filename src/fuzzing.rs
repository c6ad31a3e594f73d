//! The bodies of the cargo-fuzz targets in `fuzz/`, kept here so that the fuzzer and the
//! regression tests replaying its findings (`tests/data/fuzz/<target>/`) call one function.
//! Each takes arbitrary bytes, runs the pure rules the service runs on such input, and
//! panics when a promise breaks: a panic is how libFuzzer learns of a failure. Not an API.

use std::sync::LazyLock;

use icu_normalizer::ComposingNormalizerBorrowed;
use serde_json::Value;

use crate::domain::automatic::Automatic;
use crate::domain::consultation::{self, Limits, RawConsultation};
use crate::domain::threading::{self, Candidate, Thread, ThreadFacts};
use crate::domain::vocabulary::TicketId;
use crate::domain::{reference, triage};
use crate::intake::parse::{self, InboundMail};

/// A fuzz target's body: panics on a broken promise.
pub type Target = fn(&[u8]);

mod clock;

pub use clock::clock;

/// The fuzz targets, by the name of their corpus folder.
pub const TARGETS: [(&str, Target); 4] = [
    ("intake", intake),
    ("form", form),
    ("clock", clock),
    ("triage", triage),
];

/// Small, so that both kept and skipped attachments are reached.
pub const MAX_ATTACHMENT_BYTES: u64 = 4096;
const OWN_ADDRESS: &str = "soudan@madoguchi.example.jp";
const STRANGER: &str = "someone-else@example.jp";

static NFKC: ComposingNormalizerBorrowed<'static> = ComposingNormalizerBorrowed::new_nfkc();

/// Built once: building the lists takes far longer than assessing one message.
static LISTS: LazyLock<triage::PhraseLists> = LazyLock::new(triage::PhraseLists::builtin);

/// Reads fixed-size values off the front of the input, zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }

    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }

    fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// Text the database stores: PostgreSQL refuses NUL in text columns, so a NUL that got
/// through would make the mail fail to store on every retry.
fn storable(what: &str, text: &str) {
    assert!(!text.contains('\0'), "{what} holds NUL: {text:?}");
}

// ---------------------------------------------------------------------------------------------
// intake
// ---------------------------------------------------------------------------------------------

/// The whole intake decision on one raw message, as `intake::store` makes it, with the
/// database's answers played out both ways.
pub fn intake(raw: &[u8]) {
    let Ok(mail) = parse::parse(raw, MAX_ATTACHMENT_BYTES) else {
        return;
    };
    check_parsed(&mail);
    let kind = mail.automatic(OWN_ADDRESS);
    if mail.dsn.is_some() {
        assert_eq!(kind, Automatic::DeliveryReport, "a DSN is always automatic");
    }
    if mail.from_address.as_deref() == Some(OWN_ADDRESS) {
        assert!(kind.is_automatic(), "our own mail must never be answered");
    }
    let subject_reference = reference::find_in_subject(&mail.subject);
    if let Some(r) = &subject_reference {
        assert!(reference::is_reference(r), "{r:?} is no reference");
    }
    check_threading(&mail, subject_reference.is_some());
    let cleaned = threading::clean_subject(&mail.subject);
    assert!(!cleaned.is_empty());
    assert_eq!(
        reference::find_in_subject(&cleaned),
        None,
        "a cleaned subject still names a reference: {cleaned:?}"
    );
    storable("cleaned subject", &cleaned);
    // The urgent-risk check, as `urgent::assess` runs it.
    let own = threading::strip_quoted(&mail.body_text);
    check_assessment(&triage::assess(&format!("{}\n{own}", mail.subject), &LISTS));
    storable("hashed text", &triage::normalise(&own));
}

fn check_parsed(mail: &InboundMail) {
    assert!(!mail.message_id.is_empty(), "every mail gets a Message-ID");
    if mail.synthetic_id {
        assert!(mail.message_id.ends_with(parse::SYNTHETIC_ID_DOMAIN));
    }
    storable("message id", &mail.message_id);
    for id in mail.in_reply_to.iter().chain(&mail.references) {
        assert!(!id.is_empty(), "empty id in In-Reply-To or References");
        storable("referenced id", id);
    }
    for (what, text) in [
        ("from address", &mail.from_address),
        ("from name", &mail.from_name),
    ] {
        if let Some(text) = text {
            assert!(!text.trim().is_empty(), "{what} is blank but given");
            storable(what, text);
        }
    }
    storable("subject", &mail.subject);
    storable("body", &mail.body_text);
    assert!(!mail.body_text.contains('\r'), "the body has LF line ends");
    let kept: u64 = mail
        .attachments
        .iter()
        .map(|a| a.content.len() as u64)
        .sum();
    assert!(kept <= MAX_ATTACHMENT_BYTES, "attachments over the limit");
    let names = mail
        .attachments
        .iter()
        .map(|a| &a.filename)
        .chain(mail.skipped_attachments.iter().map(|s| &s.filename));
    for name in names {
        assert!(!name.is_empty() && name != "." && name != "..", "{name:?}");
        assert!(!name.contains(['/', '\\']), "a filename is never a path");
        assert!(!name.chars().any(char::is_control), "{name:?}");
    }
    for a in &mail.attachments {
        storable("content type", &a.content_type);
        assert!(a.content_type.contains('/'), "{:?}", a.content_type);
    }
    if let Some(dsn) = &mail.dsn {
        for text in [
            &dsn.original_message_id,
            &dsn.recipient,
            &dsn.action,
            &dsn.status,
            &dsn.diagnostic,
        ]
        .into_iter()
        .flatten()
        {
            storable("bounce detail", text);
        }
        assert!(mail.headers.content_type_report);
    }
}

/// `threading::decide` for every answer the database could give about this mail.
fn check_threading(mail: &InboundMail, has_reference: bool) {
    let related = !mail.in_reply_to.is_empty() || !mail.references.is_empty();
    let sender = mail.from_address.as_deref();
    let consulters = [sender.unwrap_or(STRANGER), STRANGER];
    for already_stored in [false, true] {
        for header in [false, related] {
            for consulter in consulters {
                let facts = ThreadFacts {
                    already_stored,
                    header_match: header.then(|| Candidate {
                        ticket_id: TicketId(1),
                        consulter_email: STRANGER.to_owned(),
                    }),
                    subject_match: has_reference.then(|| Candidate {
                        ticket_id: TicketId(2),
                        consulter_email: consulter.to_owned(),
                    }),
                    sender,
                };
                let thread = threading::decide(&facts);
                let expected = if already_stored {
                    Thread::Duplicate
                } else if header {
                    Thread::Join(TicketId(1))
                } else if has_reference && sender.is_some_and(|s| same(s, consulter)) {
                    Thread::Join(TicketId(2))
                } else {
                    Thread::New
                };
                assert_eq!(thread, expected, "{facts:?}");
            }
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    let same = threading::same_address(a, b);
    assert_eq!(
        same,
        threading::same_address(b, a),
        "same_address is symmetric"
    );
    same
}

// ---------------------------------------------------------------------------------------------
// form
// ---------------------------------------------------------------------------------------------

const FIELDS: [&str; 9] = [
    "name",
    "email",
    "relationship",
    "age_group",
    "area",
    "subject",
    "body",
    "consent",
    "passphrase",
];

/// Form and JSON validation. The first byte chooses the path and the body limit; for the
/// form, the rest is the seven text fields separated by 0xFF (never in UTF-8); for JSON, the
/// rest is the request body as `POST /api/v1/consultations` receives it.
pub fn form(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.u8();
    let limits = Limits {
        max_body_chars: usize::from(flags >> 2) * 16,
    };
    let rest = input.rest();
    if flags & 1 == 1 {
        let Ok(value) = serde_json::from_slice::<Value>(rest) else {
            return;
        };
        let result = consultation::validate_json(&value, &limits);
        check_validation(&result, &limits);
        if let Some(raw) = raw_from_plain_json(&value) {
            assert_eq!(
                result,
                consultation::validate(&raw, &limits),
                "JSON of strings is validated as the form is"
            );
        }
        return;
    }
    let mut parts = rest.split(|&b| b == 0xff).map(String::from_utf8_lossy);
    let mut field = || parts.next().map(|s| s.into_owned());
    let raw = RawConsultation {
        name: field(),
        email: field(),
        relationship: field(),
        age_group: field(),
        area: field(),
        subject: field(),
        body: field(),
        consent: flags & 2 == 2,
        passphrase: field(),
        notice_only: flags & 4 == 4,
    };
    check_validation(&consultation::validate(&raw, &limits), &limits);
}

/// The form's fields when the JSON holds only strings (and a boolean consent).
fn raw_from_plain_json(value: &Value) -> Option<RawConsultation> {
    let obj = value.as_object()?;
    let string = |key: &str| match obj.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => None,
    };
    let consent = match obj.get("consent") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return None,
    };
    let notice_only = match obj.get("notice_only") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return None,
    };
    Some(RawConsultation {
        passphrase: string("passphrase")?,
        notice_only,
        name: string("name")?,
        email: string("email")?,
        relationship: string("relationship")?,
        age_group: string("age_group")?,
        area: string("area")?,
        subject: string("subject")?,
        body: string("body")?,
        consent,
    })
}

fn check_validation(
    result: &Result<consultation::Consultation, Vec<consultation::FieldError>>,
    limits: &Limits,
) {
    match result {
        Ok(c) => {
            let texts = [
                Some(&c.email),
                c.name.as_ref(),
                c.age_group.as_ref(),
                c.area.as_ref(),
                Some(&c.subject),
                Some(&c.body),
            ];
            for text in texts.into_iter().flatten() {
                assert!(!text.is_empty());
                assert_eq!(text.trim(), text, "stored text is trimmed");
                assert!(
                    !text
                        .chars()
                        .any(|ch| ch.is_control() && ch != '\n' && ch != '\t'),
                    "{text:?} holds a control character"
                );
                assert_eq!(
                    &consultation::clean_text(text),
                    text,
                    "cleaning is done once"
                );
            }
            assert!(c.body.chars().count() <= limits.max_body_chars);
            assert!(c.subject.chars().count() <= 200);
            assert_eq!(
                consultation::normalise_email(&c.email).as_ref(),
                Some(&c.email),
                "a normalised address stays as it is"
            );
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "a refusal names at least one field");
            for (i, e) in errors.iter().enumerate() {
                assert!(FIELDS.contains(&e.field), "{e:?}");
                assert!(
                    [
                        "required",
                        "too_long",
                        "invalid",
                        "must_be_true",
                        "wrong_type",
                        "too_short"
                    ]
                    .contains(&e.code),
                    "{e:?}"
                );
                assert!(!e.message_ja.is_empty());
                assert!(
                    errors[..i].iter().all(|f| f.field != e.field),
                    "one message per field: {errors:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// triage
// ---------------------------------------------------------------------------------------------

/// Urgent-risk triage on arbitrary UTF-8 (other bytes are skipped: messages are text).
pub fn triage(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_assessment(&triage::assess(text, &LISTS));
    let normal = triage::normalise(text);
    // Twice is once, and the output is in NFKC (a mark left orphaned by a dropped character is
    // dropped with it, rather than composed on the second pass).
    assert_eq!(
        triage::normalise(&normal),
        normal,
        "normalising twice changes nothing"
    );
    assert_eq!(NFKC.normalize(&normal), normal, "the output is in NFKC");
    assert!(
        !normal.chars().any(|c| c.is_ascii_uppercase()),
        "{normal:?}"
    );
    let chars: Vec<char> = normal.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_whitespace() {
            let ascii_word = |c: Option<&char>| c.is_some_and(char::is_ascii_alphanumeric);
            assert!(
                *c == ' ' && i > 0 && ascii_word(chars.get(i - 1)) && ascii_word(chars.get(i + 1)),
                "a space only between two ASCII words: {normal:?}"
            );
        }
    }
}

fn check_assessment(assessment: &triage::Assessment) {
    let c = &assessment.categories;
    assert!(
        c.windows(2).all(|w| w[0] < w[1]),
        "sorted, no duplicates: {c:?}"
    );
    assert_eq!(assessment.is_urgent(), !c.is_empty());
}
