//! The body of a mail: its text (plain, or HTML made plain) and its attachments, gathered
//! in one walk over the MIME tree, within the attachment size allowed.

use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};

use super::{Attachment, MAX_DEPTH, SkippedAttachment, decode, html, raw_header, reparse};

/// `type/subtype` in lower case; `None` without a Content-Type.
pub(super) fn mime_type(part: &MessagePart<'_>) -> Option<String> {
    let ct = part.content_type()?;
    let ctype = ct.ctype().to_ascii_lowercase();
    Some(match ct.subtype() {
        Some(sub) => format!("{ctype}/{}", sub.to_ascii_lowercase()),
        None if ctype == "text" => "text/plain".to_owned(),
        None => "application/octet-stream".to_owned(),
    })
}

/// A part's body after its transfer encoding, from the raw bytes: for text parts
/// mail-parser keeps only its own (lossy, possibly mis-decoded) UTF-8 text. Used for every
/// leaf so that all parts are decoded alike.
pub(super) fn part_bytes(raw: &[u8], part: &MessagePart<'_>) -> Vec<u8> {
    let Some(slice) = raw.get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)
    else {
        return part.contents().to_vec();
    };
    match part.encoding {
        Encoding::Base64 => decode::base64(slice),
        Encoding::QuotedPrintable => decode::quoted_printable(slice),
        Encoding::None => slice.to_vec(),
    }
}

/// Body text and attachments, gathered in one walk over the MIME tree.
#[derive(Default)]
pub(super) struct Body<'r> {
    raw: &'r [u8],
    max: u64,
    kept: u64,
    pub text: Vec<String>,
    pub attachments: Vec<Attachment>,
    pub skipped: Vec<SkippedAttachment>,
    seen: usize,
}

impl<'r> Body<'r> {
    /// Attachments are kept while their total stays within `max` bytes.
    pub fn new(raw: &'r [u8], max: u64) -> Self {
        Self {
            raw,
            max,
            ..Self::default()
        }
    }

    /// `show`: text parts here belong to the body (false in the alternatives not chosen,
    /// whose attachments, such as a photo pasted into the HTML version, are still kept).
    pub fn walk(&mut self, message: &Message<'_>, id: u32, show: bool, depth: usize) {
        let Some(part) = message.part(id) else { return };
        match &part.body {
            PartType::Multipart(children) => {
                if depth >= MAX_DEPTH {
                    return;
                }
                let subtype = part
                    .content_type()
                    .and_then(|ct| ct.subtype())
                    .unwrap_or_default();
                let shown: Option<u32> = if subtype.eq_ignore_ascii_case("alternative") {
                    self.choose_alternative(message, children)
                } else if subtype.eq_ignore_ascii_case("related") {
                    children.first().copied()
                } else {
                    None
                };
                for &child in children {
                    let show = show && shown.is_none_or(|s| s == child);
                    self.walk(message, child, show, depth + 1);
                }
            }
            PartType::Text(_) | PartType::Html(_) if is_body_text(part) => {
                if show {
                    let text = self.text_of(part);
                    if !text.is_empty() {
                        self.text.push(text);
                    }
                }
            }
            _ => self.attach(part),
        }
    }

    /// Plain text if it says anything, else a multipart (which may hold plain text), else
    /// HTML, else the last (richest, RFC 2046) alternative.
    fn choose_alternative(&self, message: &Message<'_>, children: &[u32]) -> Option<u32> {
        let kind = |id: &u32| message.part(*id).map(|p| (p, mime_type(p)));
        let plain = children.iter().find(|id| {
            kind(id).is_some_and(|(p, t)| {
                is_body_text(p)
                    && t.as_deref() != Some("text/html")
                    && !self.text_of(p).trim().is_empty()
            })
        });
        let multipart = || {
            children
                .iter()
                .find(|id| kind(id).is_some_and(|(p, _)| p.sub_parts().is_some()))
        };
        let html = || {
            children.iter().find(|id| {
                kind(id).is_some_and(|(p, t)| is_body_text(p) && t.as_deref() == Some("text/html"))
            })
        };
        plain
            .or_else(multipart)
            .or_else(html)
            .or(children.last())
            .copied()
    }

    fn text_of(&self, part: &MessagePart<'_>) -> String {
        let ct = part.content_type();
        let charset = ct.and_then(|ct| ct.attribute("charset"));
        let text = decode::normalize_newlines(&decode::text(&part_bytes(self.raw, part), charset));
        if mime_type(part).as_deref() == Some("text/html") {
            return html::html_to_text(&text);
        }
        let param = |name: &str| ct.and_then(|ct| ct.attribute(name)).map(str::trim);
        if param("format").is_some_and(|f| f.eq_ignore_ascii_case("flowed")) {
            let delsp = param("delsp").is_some_and(|d| d.eq_ignore_ascii_case("yes"));
            return decode::unflow(&text, delsp).trim_end().to_owned();
        }
        text
    }

    fn attach(&mut self, part: &MessagePart<'_>) {
        self.seen += 1;
        let content = part_bytes(self.raw, part);
        let content_type = content_type(part);
        let filename =
            filename(self.raw, part).unwrap_or_else(|| generated_name(self.seen, &content_type));
        let size = content.len() as u64;
        if self.kept.saturating_add(size) > self.max {
            self.skipped.push(SkippedAttachment { filename, size });
            return;
        }
        self.kept += size;
        self.attachments.push(Attachment {
            filename,
            content_type,
            content,
        });
    }
}

/// Inline text/plain or text/html (or untyped) without a filename: part of the body.
/// Anything with a filename, marked `attachment`, or of another type is an attachment.
fn is_body_text(part: &MessagePart<'_>) -> bool {
    let typed_as_text = mime_type(part).is_none_or(|t| t == "text/plain" || t == "text/html");
    let marked = part
        .content_disposition()
        .is_some_and(|cd| cd.ctype().eq_ignore_ascii_case("attachment"));
    typed_as_text && !marked && part.attachment_name().is_none_or(|n| n.trim().is_empty())
}

fn content_type(part: &MessagePart<'_>) -> String {
    let mime = mime_type(part).unwrap_or_else(|| match part.body {
        PartType::Text(_) | PartType::Html(_) => "text/plain".to_owned(),
        PartType::Message(_) => "message/rfc822".to_owned(),
        _ => "application/octet-stream".to_owned(),
    });
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(str::trim);
    super::without_nul(match charset {
        Some(cs) if mime.starts_with("text/") && !cs.is_empty() => {
            format!("{mime}; charset={}", cs.to_ascii_lowercase())
        }
        _ => mime,
    })
}

/// The part's filename, decoded; raw JIS or Shift_JIS in the parameter (old mailers) is
/// read by re-parsing the fixed header.
fn filename(raw: &[u8], part: &MessagePart<'_>) -> Option<String> {
    let given = part.attachment_name()?;
    let fixed = if given.contains('\u{fffd}') || given.contains('\u{1b}') {
        ["Content-Disposition", "Content-Type"]
            .iter()
            .find_map(|field| {
                let header = part
                    .headers()
                    .iter()
                    .find(|h| h.name().eq_ignore_ascii_case(field))?;
                let text = decode::header_bytes(raw_header(raw, header))?;
                let message = reparse(field, &text)?;
                message.root_part().attachment_name().map(str::to_owned)
            })
    } else {
        None
    };
    sanitize_filename(fixed.as_deref().unwrap_or(given))
}

/// No directories (a name is never a path here) and no control characters.
fn sanitize_filename(name: &str) -> Option<String> {
    let cleaned: String = name
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty() && cleaned != "." && cleaned != "..").then(|| cleaned.to_owned())
}

fn generated_name(n: usize, content_type: &str) -> String {
    let mime = content_type.split(';').next().unwrap_or_default();
    let ext = match mime {
        "message/rfc822" | "message/global" => "eml",
        "text/plain" | "text/rfc822-headers" | "message/delivery-status" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "application/pdf" => "pdf",
        _ => "bin",
    };
    format!("attachment-{n}.{ext}")
}
