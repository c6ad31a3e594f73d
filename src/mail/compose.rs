//! Turns templates and facts into the exact bytes of a mail, ready for the outbox.

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use minijinja::context;

use crate::config::CenterSettings;
use crate::templates::{TemplateError, Templates};

/// A mail rendered once, so every retry sends the very same bytes with the same Message-ID.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub to: String,
    /// Without angle brackets, as stored.
    pub rfc_message_id: String,
    pub subject: String,
    pub body: String,
    pub raw: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{0} is not a usable mail address")]
    Address(String),
    #[error("cannot build mail: {0}")]
    Build(String),
}

/// A fresh, unguessable Message-ID (128 random bits) in the centre's own domain.
pub fn new_message_id(reply_address: &str, entropy: [u8; 16]) -> String {
    let domain = reply_address
        .rsplit_once('@')
        .map_or("madoguchi.invalid", |(_, d)| d);
    let hex: String = entropy.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.madoguchi@{domain}")
}

pub struct Acknowledgement<'a> {
    pub to: &'a str,
    pub name: Option<&'a str>,
    pub reference: &'a str,
    pub subject: &'a str,
    pub reply_days: u32,
    /// Already written for a Japanese reader, e.g. `2027年1月15日（金）`.
    pub reply_by: &'a str,
    /// The consulter's own mail, when the consultation came by mail.
    pub in_reply_to: Option<&'a str>,
    /// The message speaks of danger: the acknowledgement says where to call now.
    pub urgent: bool,
}

pub fn acknowledgement(
    templates: &Templates,
    center: &CenterSettings,
    ack: &Acknowledgement<'_>,
    message_id: String,
    date: DateTime<Utc>,
) -> Result<OutgoingMail, ComposeError> {
    let ctx = context! {
        center => center,
        name => ack.name,
        reference => ack.reference,
        subject => ack.subject,
        reply_days => ack.reply_days,
        reply_by => ack.reply_by,
        urgent => ack.urgent,
    };
    let subject = one_line(&templates.render("acknowledgement/subject.txt", &ctx)?);
    let body = templates.render("acknowledgement/body.txt", &ctx)?;
    let threading = ack.in_reply_to.map(|id| Threading {
        in_reply_to: id.to_string(),
        references: vec![id.to_string()],
    });
    build(
        center,
        ack.to,
        subject,
        body,
        message_id,
        threading,
        Some("auto-replied"),
        date,
    )
}

/// A mail to staff (alerts, digests): references and links only, never a consultation's text.
pub fn staff_alert(
    templates: &Templates,
    center: &CenterSettings,
    kind: &str,
    to: &str,
    ctx: minijinja::Value,
    message_id: String,
    date: DateTime<Utc>,
) -> Result<OutgoingMail, ComposeError> {
    let subject = one_line(&templates.render(&format!("alerts/{kind}/subject.txt"), &ctx)?);
    let body = templates.render(&format!("alerts/{kind}/body.txt"), &ctx)?;
    build(
        center,
        to,
        subject,
        body,
        message_id,
        None,
        Some("auto-generated"),
        date,
    )
}

pub struct StaffReply<'a> {
    pub to: &'a str,
    pub consulter_name: Option<&'a str>,
    pub counsellor_name: &'a str,
    pub reference: &'a str,
    pub ticket_subject: &'a str,
    /// What the counsellor wrote; greeting and signature come from the template.
    pub body: &'a str,
    pub threading: Option<Threading>,
}

/// A counsellor's answer: `Re: <subject> [#REF]`, threaded to the consulter's newest mail.
pub fn staff_reply(
    templates: &Templates,
    center: &CenterSettings,
    reply: StaffReply<'_>,
    message_id: String,
    date: DateTime<Utc>,
) -> Result<OutgoingMail, ComposeError> {
    let body = templates.render(
        "reply/body.txt",
        context! {
            center => center,
            name => reply.consulter_name,
            counsellor => reply.counsellor_name,
            reference => reply.reference,
            body => reply.body,
        },
    )?;
    let subject = format!("Re: {} [#{}]", reply.ticket_subject, reply.reference);
    build(
        center,
        reply.to,
        subject,
        body,
        message_id,
        reply.threading,
        None,
        date,
    )
}

pub struct Threading {
    pub in_reply_to: String,
    /// Oldest first.
    pub references: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
pub fn build(
    center: &CenterSettings,
    to: &str,
    subject: String,
    body: String,
    message_id: String,
    threading: Option<Threading>,
    auto_submitted: Option<&'static str>,
    date: DateTime<Utc>,
) -> Result<OutgoingMail, ComposeError> {
    let from = Mailbox::new(
        Some(center.name.clone()),
        center
            .reply_address
            .parse()
            .map_err(|_| ComposeError::Address("center.reply_address".into()))?,
    );
    let to_box: Mailbox = to
        .parse()
        .map_err(|_| ComposeError::Address("the recipient".into()))?;
    let mut builder = Message::builder()
        .from(from)
        .to(to_box)
        .subject(subject.clone())
        .date(date.into())
        .message_id(Some(format!("<{message_id}>")))
        .header(ContentType::TEXT_PLAIN);
    if let Some(t) = threading {
        builder = builder
            .in_reply_to(format!("<{}>", t.in_reply_to))
            .references(
                t.references
                    .iter()
                    .map(|r| format!("<{r}>"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
    }
    let mut message = builder
        .body(body.clone())
        .map_err(|e| ComposeError::Build(e.to_string()))?;
    if let Some(value) = auto_submitted {
        // RFC 3834: tells other auto-responders not to answer us, which prevents mail loops.
        message.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            value.into(),
        ));
    }
    Ok(OutgoingMail {
        to: to.to_string(),
        rfc_message_id: message_id,
        subject,
        body,
        raw: message.formatted(),
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn acknowledgement_headers_and_text() {
        let settings = Settings::defaults().unwrap();
        let templates = Templates::load(None).unwrap();
        let id = new_message_id(&settings.center.reply_address, [7; 16]);
        assert_eq!(id, "07070707070707070707070707070707.madoguchi@example.org");
        let mail = acknowledgement(
            &templates,
            &settings.center,
            &Acknowledgement {
                to: "hanako@example.jp",
                name: Some("花子"),
                reference: "K7QM-4WXZ",
                subject: "息子のこと",
                reply_days: 10,
                reply_by: "2027年1月15日（金）",
                in_reply_to: None,
                urgent: false,
            },
            id.clone(),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(mail.subject, "ご相談を受け付けました [#K7QM-4WXZ]");
        assert!(mail.body.starts_with("花子 様"));
        assert!(mail.body.contains("受付番号：K7QM-4WXZ"));
        assert!(mail.body.contains("10日程度"));
        assert!(mail.body.contains("2027年1月15日（金）"));
        assert!(mail.body.contains("011-863-8733"));
        let raw = String::from_utf8(mail.raw).unwrap();
        assert!(raw.contains(&format!("Message-ID: <{id}>")));
        assert!(raw.contains("Auto-Submitted: auto-replied"));
        assert!(raw.contains("charset=utf-8"));
        assert!(!raw.contains("In-Reply-To"));
    }
}
