//! The mail a consulter's form message stands for, composed by hand for the export.

use chrono::{DateTime, Utc};

use super::Mailer;
use super::mailer::{ComposeError, one_line};

impl Mailer {
    /// A consulter's message that came by the form, written as the mail it stands for (from
    /// them, to the centre), for the export: the form keeps no mail of its own. Composed by
    /// hand: lettre cannot read back a quoted local part in `From:` (a carrier address).
    pub fn form_message(
        &self,
        from: &str,
        name: Option<&str>,
        subject: &str,
        body: &str,
        date: DateTime<Utc>,
    ) -> Result<Vec<u8>, ComposeError> {
        let from = crate::domain::address::wire_form(from).ok_or(ComposeError::Recipient)?;
        let words = |text: &str| format!("=?UTF-8?B?{}?=", base64(one_line(text).as_bytes()));
        let from = match name.filter(|n| !n.trim().is_empty()) {
            Some(n) => format!("{} <{from}>", words(n)),
            None => format!("<{from}>"),
        };
        let encoded = base64(body.as_bytes());
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        let mail = format!(
            "From: {from}\r\nTo: {} <{}>\r\nSubject: {}\r\nDate: {}\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: base64\r\n\
             X-Madoguchi-Export: composed from a message sent with the consultation form\r\n\r\n{}\r\n",
            words(&self.center().name),
            self.center().reply_address,
            words(subject),
            date.to_rfc2822(),
            lines.join("\r\n"),
        );
        Ok(mail.into_bytes())
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads_as_the_standard_says() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"M"), "TQ==");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64("相談".as_bytes()), "55u46KuH");
    }
}
