//! Text modules (定型文): what a title and body must be, and how their placeholders are filled
//! when one is put into a reply. Plain replacement, never a template engine: a module is
//! written by staff, but it must not be able to reach anything but these values.

/// The values a module may name, as `{{consulter_name}}` and so on.
pub struct Fill<'a> {
    /// The consulter's name as given; a module reads naturally without one.
    pub consulter_name: Option<&'a str>,
    pub center_name: &'a str,
    pub center_phone: &'a str,
    pub center_phone_hours: &'a str,
    pub center_address: &'a str,
    pub center_website: &'a str,
    pub reply_address: &'a str,
}

/// Said for the consulter when they gave no name: "{{consulter_name}}様" still reads well.
const NO_NAME: &str = "ご相談者";

/// The placeholders a module may carry, for the supervisors' page.
pub const PLACEHOLDERS: [(&str, &str); 7] = [
    (
        "{{consulter_name}}",
        "相談者のお名前（ないときは「ご相談者」）",
    ),
    ("{{center_name}}", "センターの名前"),
    ("{{center_phone}}", "電話相談の番号"),
    ("{{center_phone_hours}}", "電話相談の時間"),
    ("{{center_address}}", "センターの所在地"),
    ("{{center_website}}", "センターのウェブサイト"),
    ("{{reply_address}}", "返信先のメールアドレス"),
];

pub fn fill(body: &str, f: &Fill<'_>) -> String {
    let name = f
        .consulter_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(NO_NAME);
    let values = [
        name,
        f.center_name,
        f.center_phone,
        f.center_phone_hours,
        f.center_address,
        f.center_website,
        f.reply_address,
    ];
    // One pass, so a value that looks like a placeholder is never filled in turn.
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let found = after.find("}}").and_then(|end| {
            let key = after[..end].trim();
            PLACEHOLDERS
                .iter()
                .position(|(p, _)| p.trim_start_matches("{{").trim_end_matches("}}") == key)
                .map(|i| (values[i], end))
        });
        match found {
            Some((value, end)) => {
                out.push_str(value);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Title and body checked: each offending field named with its code.
pub fn check(
    title: &str,
    body: &str,
) -> Result<(String, String), Vec<(&'static str, &'static str)>> {
    let title = super::consultation::clean_text(title);
    let body = super::consultation::clean_text(body);
    let mut errors = Vec::new();
    if title.is_empty() {
        errors.push(("title", "required"));
    } else if title.chars().count() > 100 {
        errors.push(("title", "too_long"));
    }
    if body.is_empty() {
        errors.push(("body", "required"));
    } else if body.chars().count() > 10_000 {
        errors.push(("body", "too_long"));
    }
    if errors.is_empty() {
        Ok((title, body))
    } else {
        Err(errors)
    }
}

/// The reply with a module's text added after what is written already.
pub fn append(reply: &str, text: &str) -> String {
    let reply = reply.trim_end();
    if reply.is_empty() {
        text.to_string()
    } else {
        format!("{reply}\n\n{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn centre(name: Option<&str>) -> Fill<'_> {
        Fill {
            consulter_name: name,
            center_name: "札幌市ひきこもり地域支援センター",
            center_phone: "011-863-8733",
            center_phone_hours: "月〜金 9:30〜16:00",
            center_address: "札幌市白石区",
            center_website: "https://example.org",
            reply_address: "soudan@example.org",
        }
    }

    #[test]
    fn placeholders_become_the_consulters_and_centres_details() {
        let body = "{{consulter_name}}様\n{{ center_name }}（{{center_phone}}）{{unknown}}";
        assert_eq!(
            fill(body, &centre(Some("山田 花子"))),
            "山田 花子様\n札幌市ひきこもり地域支援センター（011-863-8733）{{unknown}}"
        );
        assert!(fill(body, &centre(None)).starts_with("ご相談者様"));
        assert!(fill(body, &centre(Some("  "))).starts_with("ご相談者様"));
        // A value that looks like a placeholder is not filled again.
        assert_eq!(
            fill("{{consulter_name}}", &centre(Some("{{center_phone}}"))),
            "{{center_phone}}"
        );
    }

    #[test]
    fn modules_need_a_title_and_a_body_and_append_after_a_blank_line() {
        assert_eq!(
            check(" ", ""),
            Err(vec![("title", "required"), ("body", "required")])
        );
        assert!(check("あいさつ", "こんにちは").is_ok());
        assert_eq!(append("", "B"), "B");
        assert_eq!(append("A\n\n", "B"), "A\n\nB");
    }
}
