//! The `message/delivery-status` body of a bounce (RFC 3464): header-like fields in groups
//! separated by empty lines, first the per-message group, then one per recipient.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::body::{mime_type, part_bytes};
use super::{Dsn, clean_id, decode};

/// Bounce details when the mail is a `multipart/report` of delivery status.
pub(super) fn report(
    message: &Message<'_>,
    raw: &[u8],
    in_reply_to: &[String],
    references: &[String],
) -> Option<Dsn> {
    let root = message.root_part().content_type()?;
    let is_report = root.ctype().eq_ignore_ascii_case("multipart")
        && root
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        && root.attribute("report-type").is_some_and(|t| {
            t.eq_ignore_ascii_case("delivery-status")
                || t.eq_ignore_ascii_case("global-delivery-status")
        });
    if !is_report {
        return None;
    }
    let mut status = None;
    let mut original = None;
    for part in &message.parts {
        match mime_type(part).as_deref() {
            Some("message/delivery-status" | "message/global-delivery-status")
                if status.is_none() =>
            {
                let text = decode::text(&part_bytes(raw, part), None);
                status = Some(recipient_status(&text));
            }
            Some(
                "message/rfc822"
                | "message/global"
                | "text/rfc822-headers"
                | "message/global-headers",
            ) if original.is_none() => {
                original = match &part.body {
                    PartType::Message(nested) => nested.message_id().map(clean_id),
                    _ => {
                        let bytes = part_bytes(raw, part);
                        MessageParser::default()
                            .parse_headers(&bytes)
                            .and_then(|m| m.message_id().map(clean_id))
                    }
                }
                .filter(|id| !id.is_empty());
            }
            _ => (),
        }
    }
    let status = status.unwrap_or_default();
    let kept = |field: Option<String>| field.map(super::without_nul).filter(|f| !f.is_empty());
    Some(Dsn {
        original_message_id: original
            .or_else(|| in_reply_to.first().cloned())
            .or_else(|| references.last().cloned()),
        recipient: kept(status.recipient),
        action: kept(status.action),
        status: kept(status.status),
        diagnostic: kept(status.diagnostic),
    })
}

/// The fields of the recipient a bounce is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct RecipientStatus {
    pub recipient: Option<String>,
    pub action: Option<String>,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
}

/// Reads the first recipient group, preferring one whose action is `failed` (a report can
/// also list recipients that were delivered or delayed).
pub(super) fn recipient_status(body: &str) -> RecipientStatus {
    let groups = groups(body);
    let recipients: Vec<&Vec<(String, String)>> = groups
        .iter()
        .filter(|g| g.iter().any(|(name, _)| is_recipient_field(name)))
        .collect();
    let Some(group) = recipients
        .iter()
        .find(|g| field(g, "action").is_some_and(|a| a.eq_ignore_ascii_case("failed")))
        .or(recipients.first())
    else {
        return RecipientStatus::default();
    };
    let typed = |name: &str| {
        field(group, name)
            .map(without_type)
            .filter(|v| !v.is_empty())
    };
    RecipientStatus {
        recipient: typed("final-recipient")
            .or_else(|| typed("original-recipient"))
            .map(|r| r.trim_start_matches('<').trim_end_matches('>').to_owned()),
        action: field(group, "action")
            .map(str::to_ascii_lowercase)
            .filter(|a| !a.is_empty()),
        // `5.1.1 (user unknown)`: the code is the first word.
        status: field(group, "status")
            .and_then(|s| s.split_whitespace().next())
            .map(str::to_owned),
        diagnostic: typed("diagnostic-code").map(str::to_owned),
    }
}

fn is_recipient_field(name: &str) -> bool {
    ["final-recipient", "original-recipient", "action"]
        .iter()
        .any(|f| name.eq_ignore_ascii_case(f))
}

fn field<'a>(group: &'a [(String, String)], name: &str) -> Option<&'a str> {
    group
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `rfc822; taro@example.jp` → `taro@example.jp`; `smtp; 550 ...` → `550 ...`.
fn without_type(value: &str) -> &str {
    value.split_once(';').map_or(value, |(_, v)| v).trim()
}

/// Field groups with folded lines joined (runs of whitespace become one space).
fn groups(body: &str) -> Vec<Vec<(String, String)>> {
    let mut groups = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            current.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    for (_, value) in groups.iter_mut().flatten() {
        *value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_failed_recipient() {
        let body = "Reporting-MTA: dns; mx.example.org\r\n\r\n\
                    Final-Recipient: rfc822; ok@example.jp\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n\
                    Original-Recipient: rfc822;<Taro@example.jp>\r\nACTION: Failed\r\n\
                    Status: 5.1.1 (user unknown)\r\nDiagnostic-Code: smtp; 550 5.1.1\r\n\t  User   unknown\r\n";
        assert_eq!(
            recipient_status(body),
            RecipientStatus {
                recipient: Some("Taro@example.jp".into()),
                action: Some("failed".into()),
                status: Some("5.1.1".into()),
                diagnostic: Some("550 5.1.1 User unknown".into()),
            }
        );
    }

    #[test]
    fn without_a_failed_one_the_first_recipient_counts() {
        let body = "Final-Recipient: rfc822; a@example.jp\nAction: delayed\nStatus: 4.4.1\n\n\
                    Final-Recipient: b@example.jp\nAction: delivered\n";
        let got = recipient_status(body);
        assert_eq!(
            got.recipient.as_deref(),
            Some("a@example.jp"),
            "a group may open the body"
        );
        assert_eq!(got.action.as_deref(), Some("delayed"));
        assert_eq!(got.diagnostic, None);
    }

    #[test]
    fn nothing_to_read() {
        assert_eq!(recipient_status(""), RecipientStatus::default());
        assert_eq!(
            recipient_status("Reporting-MTA: dns; x\n\nnot a field\n"),
            RecipientStatus::default()
        );
        let empty = recipient_status("Final-Recipient: rfc822;\nAction:\nStatus:\n");
        assert_eq!(empty, RecipientStatus::default(), "empty values are absent");
    }
}
