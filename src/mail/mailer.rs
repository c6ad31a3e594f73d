//! Turns templates and facts into the exact bytes of a mail, ready for the outbox.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::Address;
use lettre::address::Envelope;
use lettre::message::header::{ContentType, HeaderName, HeaderValue, MIME_VERSION_1_0};
use lettre::message::{Mailbox, Message};
use minijinja::context;

use crate::config::{CenterSettings, Settings};
use crate::domain::vocabulary::TicketId;
use crate::domain::{inbound, jpdate};
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
    /// The consulter's address as stored cannot be written on a mail: the person's data, not
    /// the service's, so the caller is told (409) rather than given a 500.
    #[error("the recipient is not a usable mail address")]
    Recipient,
    #[error("cannot build mail: {0}")]
    Build(String),
}

/// Composes every mail the centre sends, from its templates and settings: the same sender,
/// Message-IDs in the centre's own domain, and links to the service.
pub struct Mailer {
    templates: Arc<Templates>,
    center: CenterSettings,
    base_url: String,
    reply_days: u32,
    tz: Tz,
    domain: String,
}

pub struct Acknowledgement<'a> {
    pub to: &'a str,
    pub name: Option<&'a str>,
    pub reference: &'a str,
    pub subject: &'a str,
    /// When the reply is due; written out for a Japanese reader.
    pub reply_due_at: DateTime<Utc>,
    /// The consulter's own mail, when the consultation came by mail.
    pub in_reply_to: Option<&'a str>,
    /// The message speaks of danger: the acknowledgement says where to call now.
    pub urgent: bool,
    /// The consulter asked for notices only: no subject, no text, no name (CONTRACT §10).
    pub notice_only: bool,
}

/// A notice-only mail: what waits (`acknowledgement` or `reply`), for whom, threaded how.
struct Notice<'a> {
    what: &'static str,
    to: &'a str,
    reference: &'a str,
    reply_due_at: Option<DateTime<Utc>>,
    threading: Option<Threading>,
    auto_submitted: Option<&'static str>,
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
    /// The consulter asked for notices only: the mail says a reply waits on their page.
    pub notice_only: bool,
}

impl Mailer {
    pub fn new(templates: Arc<Templates>, settings: &Settings, tz: Tz) -> Self {
        let center = settings.center.clone();
        let domain = center
            .reply_address
            .rsplit_once('@')
            .map_or("madoguchi.invalid", |(_, d)| d)
            .to_string();
        Self {
            templates,
            base_url: settings
                .server
                .public_base_url
                .trim_end_matches('/')
                .to_string(),
            reply_days: settings.sla.reply_days,
            tz,
            center,
            domain,
        }
    }

    pub fn center(&self) -> &CenterSettings {
        &self.center
    }

    /// A fresh, unguessable Message-ID (128 random bits) in the centre's own domain.
    pub fn message_id(&self) -> String {
        message_id_in(&self.domain, crate::random::bytes())
    }

    /// Where staff open a ticket.
    pub fn ticket_link(&self, ticket_id: TicketId) -> String {
        format!("{}/desk/tickets/{ticket_id}", self.base_url)
    }

    /// The console page where a supervisor reads a reply waiting for review.
    pub fn review_link(&self, message_id: crate::domain::vocabulary::MessageId) -> String {
        format!("{}/desk/reviews/{message_id}", self.base_url)
    }

    /// Where a consulter reads their consultation and its replies.
    pub fn my_page_link(&self) -> String {
        format!("{}/my", self.base_url)
    }

    /// A mail to a consulter who asked for notices only: that something is waiting, the
    /// reference and the page's link; no subject, text or name of theirs. A shared mailbox
    /// shows nothing of the consultation.
    fn notice(&self, n: Notice<'_>, date: DateTime<Utc>) -> Result<OutgoingMail, ComposeError> {
        let ctx = context! {
            center => &self.center,
            what => n.what,
            reference => n.reference,
            reply_by => n.reply_due_at.map(|d| jpdate::date_ja(&d.with_timezone(&self.tz))),
            link => self.my_page_link(),
        };
        let subject = one_line(&self.templates.render("notice/subject.txt", &ctx)?);
        let body = self.templates.render("notice/body.txt", &ctx)?;
        self.build(n.to, subject, body, n.threading, n.auto_submitted, date)
    }

    /// The first answer to a new consultation: received, its reference, the reply time.
    pub fn acknowledgement(
        &self,
        ack: &Acknowledgement<'_>,
        date: DateTime<Utc>,
    ) -> Result<OutgoingMail, ComposeError> {
        let threading = ack.in_reply_to.map(|id| Threading {
            in_reply_to: id.to_string(),
            references: vec![id.to_string()],
        });
        if ack.notice_only {
            let notice = Notice {
                what: "acknowledgement",
                to: ack.to,
                reference: ack.reference,
                reply_due_at: Some(ack.reply_due_at),
                threading,
                auto_submitted: Some("auto-replied"),
            };
            return self.notice(notice, date);
        }
        let ctx = context! {
            center => &self.center,
            name => ack.name,
            reference => ack.reference,
            subject => ack.subject,
            reply_days => self.reply_days,
            reply_by => jpdate::date_ja(&ack.reply_due_at.with_timezone(&self.tz)),
            urgent => ack.urgent,
        };
        let subject = one_line(&self.templates.render("acknowledgement/subject.txt", &ctx)?);
        let body = self.templates.render("acknowledgement/body.txt", &ctx)?;
        self.build(ack.to, subject, body, threading, Some("auto-replied"), date)
    }

    /// A mail to staff (alerts, digests): references and links only, never a consultation's
    /// text. The template gets the recipient's `name` and the centre besides `ctx`.
    pub fn staff_alert(
        &self,
        kind: &str,
        (to, name): (&str, &str),
        ctx: minijinja::Value,
        date: DateTime<Utc>,
    ) -> Result<OutgoingMail, ComposeError> {
        let ctx = context! { name => name, center => &self.center, ..ctx };
        let subject = one_line(
            &self
                .templates
                .render(&format!("alerts/{kind}/subject.txt"), &ctx)?,
        );
        let body = self
            .templates
            .render(&format!("alerts/{kind}/body.txt"), &ctx)?;
        self.build(to, subject, body, None, Some("auto-generated"), date)
    }

    /// A counsellor's answer: `Re: <subject> [#REF]`, threaded to the consulter's newest mail.
    pub fn staff_reply(
        &self,
        reply: StaffReply<'_>,
        date: DateTime<Utc>,
    ) -> Result<OutgoingMail, ComposeError> {
        if reply.notice_only {
            let notice = Notice {
                what: "reply",
                to: reply.to,
                reference: reply.reference,
                reply_due_at: None,
                threading: reply.threading,
                auto_submitted: None,
            };
            return self.notice(notice, date);
        }
        let body = self.templates.render(
            "reply/body.txt",
            context! {
                center => &self.center,
                name => reply.consulter_name,
                counsellor => reply.counsellor_name,
                reference => reply.reference,
                body => reply.body,
            },
        )?;
        let subject = format!("Re: {} [#{}]", reply.ticket_subject, reply.reference);
        self.build(reply.to, subject, body, reply.threading, None, date)
    }

    /// The exact bytes, with a fresh Message-ID: rendered once, so every retry of the
    /// outbox sends the very same mail.
    fn build(
        &self,
        to: &str,
        subject: String,
        body: String,
        threading: Option<Threading>,
        auto_submitted: Option<&'static str>,
        date: DateTime<Utc>,
    ) -> Result<OutgoingMail, ComposeError> {
        let message_id = self.message_id();
        let from_address: Address = self
            .center
            .reply_address
            .parse()
            .map_err(|_| ComposeError::Address("center.reply_address".into()))?;
        let to_address = wire_address(to).ok_or(ComposeError::Recipient)?;
        // Given, not read back from the headers: lettre's header parser refuses a quoted
        // local part such as `"taro..yamada."` that it writes itself.
        let envelope = Envelope::new(Some(from_address.clone()), vec![to_address.clone()])
            .map_err(|e| ComposeError::Build(e.to_string()))?;
        let mut builder = Message::builder()
            .envelope(envelope)
            .from(Mailbox::new(Some(self.center.name.clone()), from_address))
            .to(Mailbox::new(None, to_address))
            .subject(subject.clone())
            .date(date.into())
            .message_id(Some(format!("<{message_id}>")))
            .header(MIME_VERSION_1_0)
            .header(ContentType::TEXT_PLAIN);
        if let Some(t) = threading.and_then(Threading::without_odd_ids) {
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
}

/// An address as lettre sends it, in the envelope and in `To:`: a carrier address whose local
/// part is no Dot-string (`taro..yamada.@docomo.ne.jp`) goes quoted (docs/CONTRACT.md §5).
pub fn wire_address(address: &str) -> Option<Address> {
    crate::domain::address::wire_form(address)?.parse().ok()
}

fn message_id_in(domain: &str, entropy: [u8; 16]) -> String {
    format!("{}.madoguchi@{domain}", crate::random::hex(&entropy))
}

pub struct Threading {
    pub in_reply_to: String,
    /// Oldest first.
    pub references: Vec<String>,
}

impl Threading {
    /// Only ids safe to write into our own headers: a sender's `<odd id@x>` is left out
    /// (and In-Reply-To falls back to the newest safe reference), never copied as it came.
    fn without_odd_ids(self) -> Option<Self> {
        let references: Vec<String> = self
            .references
            .into_iter()
            .filter(|id| inbound::safe_message_id(id))
            .collect();
        let in_reply_to = if inbound::safe_message_id(&self.in_reply_to) {
            self.in_reply_to
        } else {
            references.last()?.clone()
        };
        Some(Self {
            in_reply_to,
            references,
        })
    }
}

pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn odd_ids_are_left_out_of_our_threading_headers() {
        let t = Threading {
            in_reply_to: "a b@x.jp".into(),
            references: vec!["root@x.jp".into(), "a b@x.jp".into(), "r@x.jp".into()],
        }
        .without_odd_ids()
        .unwrap();
        assert_eq!(t.in_reply_to, "r@x.jp");
        assert_eq!(t.references, vec!["root@x.jp", "r@x.jp"]);
        let none = Threading {
            in_reply_to: "a b@x.jp".into(),
            references: vec!["a b@x.jp".into()],
        };
        assert!(
            none.without_odd_ids().is_none(),
            "no threading rather than an odd one"
        );
    }

    #[test]
    fn carrier_addresses_are_quoted_for_lettre() {
        let a = wire_address("taro..yamada.@docomo.ne.jp").expect("a usable address");
        assert_eq!(a.to_string(), "\"taro..yamada.\"@docomo.ne.jp");
        assert_eq!(
            wire_address("hanako@example.jp").unwrap().to_string(),
            "hanako@example.jp"
        );
        assert!(wire_address("not an address").is_none());
    }

    #[test]
    fn acknowledgement_headers_and_text() {
        let settings = Settings::defaults().unwrap();
        let templates = Arc::new(Templates::load(None).unwrap());
        let mailer = Mailer::new(templates, &settings, chrono_tz::Asia::Tokyo);
        assert_eq!(
            message_id_in("example.org", [7; 16]),
            "07070707070707070707070707070707.madoguchi@example.org"
        );
        let due = chrono::TimeZone::with_ymd_and_hms(&Utc, 2027, 1, 15, 6, 0, 0).unwrap();
        let mail = mailer
            .acknowledgement(
                &Acknowledgement {
                    to: "hanako@example.jp",
                    name: Some("花子"),
                    reference: "K7QM-4WXZ",
                    subject: "息子のこと",
                    reply_due_at: due,
                    in_reply_to: None,
                    urgent: false,
                    notice_only: false,
                },
                Utc::now(),
            )
            .unwrap();
        assert_eq!(mail.subject, "ご相談を受け付けました [#K7QM-4WXZ]");
        assert!(mail.body.starts_with("花子 様"));
        assert!(mail.body.contains("受付番号：K7QM-4WXZ"));
        assert!(mail.body.contains("10日程度"));
        assert!(mail.body.contains("2027年1月15日（金）"));
        assert!(mail.body.contains("011-863-8733"));
        assert!(mail.rfc_message_id.ends_with(".madoguchi@example.org"));
        assert_ne!(mail.rfc_message_id, mailer.message_id());
        let raw = String::from_utf8(mail.raw).unwrap();
        assert!(raw.contains(&format!("Message-ID: <{}>", mail.rfc_message_id)));
        assert!(raw.contains("Auto-Submitted: auto-replied"));
        assert!(raw.contains("MIME-Version: 1.0\r\n"));
        assert!(raw.contains("charset=utf-8"));
        assert!(!raw.contains("In-Reply-To"));
    }

    #[test]
    fn a_notice_says_only_that_something_waits() {
        let settings = Settings::defaults().unwrap();
        let templates = Arc::new(Templates::load(None).unwrap());
        let mailer = Mailer::new(templates, &settings, chrono_tz::Asia::Tokyo);
        let due = chrono::TimeZone::with_ymd_and_hms(&Utc, 2027, 1, 15, 6, 0, 0).unwrap();
        let ack = mailer
            .acknowledgement(
                &Acknowledgement {
                    to: "hanako@example.jp",
                    name: Some("花子"),
                    reference: "K7QM-4WXZ",
                    subject: "息子のこと",
                    reply_due_at: due,
                    in_reply_to: None,
                    urgent: true,
                    notice_only: true,
                },
                Utc::now(),
            )
            .unwrap();
        assert_eq!(ack.subject, "お知らせ [#K7QM-4WXZ]");
        assert!(
            ack.body.contains("http://127.0.0.1:8080/my"),
            "{}",
            ack.body
        );
        assert!(ack.body.contains("2027年1月15日（金）"));
        for secret in ["花子", "息子"] {
            assert!(!ack.body.contains(secret) && !ack.subject.contains(secret));
        }
        let reply = mailer
            .staff_reply(
                StaffReply {
                    to: "hanako@example.jp",
                    consulter_name: Some("花子"),
                    counsellor_name: "佐藤",
                    reference: "K7QM-4WXZ",
                    ticket_subject: "息子のこと",
                    body: "お返事の本文です。",
                    threading: None,
                    notice_only: true,
                },
                Utc::now(),
            )
            .unwrap();
        assert_eq!(reply.subject, "お知らせ [#K7QM-4WXZ]");
        assert!(reply.body.contains("お返事をご用意しました"));
        for secret in ["花子", "息子", "佐藤", "お返事の本文"] {
            assert!(!reply.body.contains(secret), "{secret}");
        }
    }
}
