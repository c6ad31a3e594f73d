//! Raw RFC 5322 bytes to an [`InboundMail`]: ids for threading, sender, subject, readable
//! body text, attachments (within a size budget) and bounce details. No I/O.
//!
//! mail-parser 0.11 finds the MIME structure and parses the structured headers; the text
//! itself is decoded here from the part's raw bytes (see `decode`), because mail-parser
//! reads unlabelled bodies as UTF-8 (raw JIS stays escape codes), reads raw JIS or
//! Shift_JIS in headers as UTF-8, loses a character split across two RFC 2047 words,
//! turns text attachments into lossy UTF-8, and lets `<script type=..>` leak from HTML.

mod body;
mod decode;
mod dsn;
mod html;

use mail_parser::{Address, Header, Message, MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};

use body::Body;

use crate::domain::automatic::{self, Automatic, HeaderFacts};

/// Domain of the Message-ID given to a mail that has none.
pub const SYNTHETIC_ID_DOMAIN: &str = "synthetic.madoguchi.invalid";

/// MIME nesting deeper than this is not walked (no client nests so deep; it guards the
/// recursion against hostile input). The raw mail is kept by the caller all the same.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMail {
    /// Without angle brackets.
    pub message_id: String,
    /// The mail had no Message-ID; `message_id` is derived from its bytes.
    pub synthetic_id: bool,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// The first From mailbox as given, its domain lower-cased.
    pub from_address: Option<String>,
    pub from_name: Option<String>,
    /// `Return-Path: <>` (bounces and other automatic mail).
    pub return_path_null: bool,
    /// Decoded and unfolded, otherwise as sent (markers and tags are kept).
    pub subject: String,
    /// LF line ends, trailing whitespace trimmed; HTML-only mail converted to text.
    pub body_text: String,
    /// The Date header in Unix seconds.
    pub date: Option<i64>,
    pub headers: HeaderFacts,
    pub attachments: Vec<Attachment>,
    pub skipped_attachments: Vec<SkippedAttachment>,
    /// Set for a `multipart/report; report-type=delivery-status`.
    pub dsn: Option<Dsn>,
}

impl InboundMail {
    /// Whether this mail was sent by a machine (no acknowledgement for it).
    pub fn automatic(&self, own_address: &str) -> Automatic {
        automatic::classify(
            &self.headers,
            self.from_address.as_deref(),
            self.return_path_null,
            own_address,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Decoded, without directories (`/` and `\` become `_`) or control characters;
    /// `attachment-N.ext` when the mail gives none.
    pub filename: String,
    /// `type/subtype` in lower case, with `; charset=...` for text (the content is kept as
    /// sent, not converted).
    pub content_type: String,
    pub content: Vec<u8>,
}

/// An attachment left out because the message's attachments would exceed the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedAttachment {
    pub filename: String,
    pub size: u64,
}

/// A delivery status notification (RFC 3464) for one of our mails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dsn {
    /// The bounced mail's Message-ID, without angle brackets.
    pub original_message_id: Option<String>,
    pub recipient: Option<String>,
    /// `failed`, `delayed`, `delivered`, ... in lower case.
    pub action: Option<String>,
    /// The status code, e.g. `5.1.1`.
    pub status: Option<String>,
    /// The remote server's words, without the `smtp;` type.
    pub diagnostic: Option<String>,
}

/// The input is not a mail at all; the caller quarantines the raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unparseable mail: {reason}")]
pub struct ParseError {
    reason: String,
}

impl ParseError {
    fn new(reason: &str) -> ParseError {
        ParseError {
            reason: reason.to_owned(),
        }
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Parses one raw message. Attachments are kept while their total size stays within
/// `max_attachment_bytes`; the rest are listed in `skipped_attachments`.
pub fn parse(raw: &[u8], max_attachment_bytes: u64) -> Result<InboundMail, ParseError> {
    let raw = without_mbox_from_line(raw);
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::new("empty message"));
    }
    if !starts_with_header_field(raw) {
        return Err(ParseError::new("no header section"));
    }
    let message = MessageParser::default()
        .parse(raw)
        .filter(|m| {
            m.headers()
                .iter()
                .any(|h| is_field_name(h.name().as_bytes()))
        })
        .ok_or_else(|| ParseError::new("unreadable header section"))?;

    let (message_id, synthetic_id) = match message
        .message_id()
        .map(clean_id)
        .filter(|id| !id.is_empty())
    {
        Some(id) => (id, false),
        None => (synthetic_id(raw), true),
    };
    let in_reply_to = ids(message.in_reply_to());
    let references = ids(message.references());
    let (from_address, from_name) = from(&message, raw);
    let mut body = Body::new(raw, max_attachment_bytes);
    body.walk(&message, 0, true, 0);
    let dsn = dsn::report(&message, raw, &in_reply_to, &references);
    Ok(InboundMail {
        message_id,
        synthetic_id,
        from_address,
        from_name,
        return_path_null: header_value(&message, raw, "Return-Path")
            .is_some_and(|v| v.split_whitespace().collect::<String>() == "<>"),
        subject: without_nul(subject(&message, raw)),
        body_text: without_nul(body.text.join("\n")),
        date: message.date().map(|d| d.to_timestamp()),
        headers: header_facts(&message, raw),
        attachments: body.attachments,
        skipped_attachments: body.skipped,
        dsn,
        in_reply_to,
        references,
    })
}

/// An MTA pipe may prepend the mbox `From sender date` line; it is no header, and it
/// changes from one delivery to the next, so it is not part of the mail.
fn without_mbox_from_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        raw.iter()
            .position(|&b| b == b'\n')
            .map_or(&[], |i| &raw[i + 1..])
    } else {
        raw
    }
}

/// RFC 5322 field name: printable ASCII except the colon.
fn is_field_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b) && b != b':')
}

/// The first line is `Name:`; binary junk and plain text are not mail.
fn starts_with_header_field(raw: &[u8]) -> bool {
    let line = raw.split(|&b| b == b'\n').next().unwrap_or_default();
    line.iter()
        .position(|&b| b == b':')
        .is_some_and(|colon| is_field_name(line[..colon].trim_ascii_end()))
}

fn clean_id(id: &str) -> String {
    without_nul(
        id.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim()
            .to_owned(),
    )
}

/// PostgreSQL refuses NUL in text, and a mail that cannot be stored is retried for ever
/// (and holds back its whole batch): NUL, which no text needs, is dropped from every text
/// field kept. Other control characters are stored as sent.
pub(crate) fn without_nul(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "")
    } else {
        text
    }
}

/// The same bytes give the same id, so a redelivered mail without Message-ID is still
/// recognised as already stored.
fn synthetic_id(raw: &[u8]) -> String {
    format!(
        "{}@{SYNTHETIC_ID_DOMAIN}",
        crate::random::hex(&Sha256::digest(raw))
    )
}

fn ids(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    let all: Vec<&str> = match value {
        mail_parser::HeaderValue::Text(id) => vec![id.as_ref()],
        mail_parser::HeaderValue::TextList(list) => list.iter().map(|id| id.as_ref()).collect(),
        _ => Vec::new(),
    };
    all.into_iter()
        .map(clean_id)
        .filter(|id| !id.is_empty())
        .collect()
}

fn find_header<'m>(message: &'m Message<'_>, name: &str) -> Option<&'m Header<'m>> {
    message
        .headers()
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
}

/// A header's value exactly as it is in the raw bytes (folding included).
fn raw_header<'r>(raw: &'r [u8], header: &Header<'_>) -> &'r [u8] {
    raw.get(header.offset_start() as usize..header.offset_end() as usize)
        .unwrap_or_default()
}

/// A header's raw value unfolded and trimmed, for fields we only compare.
fn header_value(message: &Message<'_>, raw: &[u8], name: &str) -> Option<String> {
    find_header(message, name).map(|h| unfold(raw_header(raw, h)))
}

fn unfold(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Re-reads one header, written out again in UTF-8, with mail-parser.
fn reparse(field: &str, value: &str) -> Option<Message<'static>> {
    let rebuilt = format!("{field}: {}\r\n\r\n", value.trim());
    MessageParser::default()
        .parse_headers(rebuilt.as_bytes())
        .map(Message::into_owned)
}

fn subject(message: &Message<'_>, raw: &[u8]) -> String {
    let Some(header) = find_header(message, "Subject") else {
        return String::new();
    };
    let raw_value = raw_header(raw, header);
    let decoded = match decode::header_bytes(raw_value) {
        Some(fixed) => reparse("Subject", &fixed).and_then(|m| m.subject().map(str::to_owned)),
        None => message.subject().map(str::to_owned),
    }
    .unwrap_or_default();
    let decoded = repair_split_words(decoded, raw_value);
    decoded.trim().to_owned()
}

/// mail-parser decodes each RFC 2047 word alone, so a character split across two words
/// comes out as U+FFFD; decode the raw value again, joining such words first.
fn repair_split_words(decoded: String, raw_value: &[u8]) -> String {
    if !decoded.contains('\u{fffd}') {
        return decoded;
    }
    let unfolded = unfold(raw_value);
    if !unfolded.contains("=?") {
        return decoded;
    }
    let again = decode::rfc2047(&unfolded);
    if again.contains('\u{fffd}') {
        decoded
    } else {
        again
    }
}

fn from(message: &Message<'_>, raw: &[u8]) -> (Option<String>, Option<String>) {
    let Some(header) = find_header(message, "From") else {
        return (None, None);
    };
    let raw_value = raw_header(raw, header);
    let (address, name) = match decode::header_bytes(raw_value) {
        Some(fixed) => reparse("From", &fixed)
            .and_then(|m| m.from().map(first_mailbox))
            .unwrap_or_default(),
        None => message.from().map(first_mailbox).unwrap_or_default(),
    };
    // A split RFC 2047 word in the display name, which is what precedes the last `<`.
    let name = match raw_value.iter().rposition(|&b| b == b'<') {
        Some(lt) => name.map(|n| {
            without_nul(repair_split_words(n, &raw_value[..lt]))
                .trim()
                .to_owned()
        }),
        None => name,
    };
    (address, name.filter(|n| !n.is_empty()))
}

fn first_mailbox(address: &Address<'_>) -> (Option<String>, Option<String>) {
    let Some(addr) = address.first() else {
        return (None, None);
    };
    let nonempty = |s: Option<&str>| {
        s.map(|s| without_nul(s.trim().to_owned()))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let (address, name) = match (nonempty(addr.address()), nonempty(addr.name())) {
        // A bare `From: MAILER-DAEMON` is read as a name; it is the sender's address.
        (None, Some(word)) if !word.contains(char::is_whitespace) => (Some(word), None),
        pair => pair,
    };
    let address = address.map(|a| match a.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => a,
    });
    (address, name)
}

fn header_facts(message: &Message<'_>, raw: &[u8]) -> HeaderFacts {
    let value = |name: &str| header_value(message, raw, name);
    let root_type = message.root_part().content_type();
    HeaderFacts {
        auto_submitted: value("Auto-Submitted"),
        precedence: value("Precedence"),
        list_id: value("List-Id").is_some(),
        list_unsubscribe: value("List-Unsubscribe").is_some(),
        x_auto_response_suppress: value("X-Auto-Response-Suppress"),
        auto_reply_headers: ["X-Autoreply", "X-Autorespond"]
            .iter()
            .any(|n| value(n).is_some_and(|v| !v.eq_ignore_ascii_case("no"))),
        content_type_report: root_type.is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        }),
    }
}

#[cfg(test)]
mod tests;
