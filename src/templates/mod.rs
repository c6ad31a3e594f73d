//! Mail and page templates: built in, and replaceable one file at a time from `templates.dir`
//! so a centre can change its wording without rebuilding.

pub mod assets;

use std::path::Path;

use minijinja::Environment;
use serde::Serialize;

/// Every template, with its built-in text. Names are paths under `config/templates/`.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "partials/signature.txt",
        include_str!("../../config/templates/partials/signature.txt"),
    ),
    (
        "acknowledgement/subject.txt",
        include_str!("../../config/templates/acknowledgement/subject.txt"),
    ),
    (
        "acknowledgement/body.txt",
        include_str!("../../config/templates/acknowledgement/body.txt"),
    ),
    (
        "acknowledgement/urgent.txt",
        include_str!("../../config/templates/acknowledgement/urgent.txt"),
    ),
    (
        "alerts/urgent/subject.txt",
        include_str!("../../config/templates/alerts/urgent/subject.txt"),
    ),
    (
        "alerts/urgent/body.txt",
        include_str!("../../config/templates/alerts/urgent/body.txt"),
    ),
    (
        "alerts/due_soon/subject.txt",
        include_str!("../../config/templates/alerts/due_soon/subject.txt"),
    ),
    (
        "alerts/due_soon/body.txt",
        include_str!("../../config/templates/alerts/due_soon/body.txt"),
    ),
    (
        "alerts/overdue/subject.txt",
        include_str!("../../config/templates/alerts/overdue/subject.txt"),
    ),
    (
        "alerts/overdue/body.txt",
        include_str!("../../config/templates/alerts/overdue/body.txt"),
    ),
    (
        "alerts/digest/subject.txt",
        include_str!("../../config/templates/alerts/digest/subject.txt"),
    ),
    (
        "alerts/digest/body.txt",
        include_str!("../../config/templates/alerts/digest/body.txt"),
    ),
    (
        "reply/body.txt",
        include_str!("../../config/templates/reply/body.txt"),
    ),
    (
        "pages/layout.html",
        include_str!("../../config/templates/pages/layout.html"),
    ),
    (
        "pages/consult.html",
        include_str!("../../config/templates/pages/consult.html"),
    ),
    (
        "pages/receipt.html",
        include_str!("../../config/templates/pages/receipt.html"),
    ),
    (
        "pages/message.html",
        include_str!("../../config/templates/pages/message.html"),
    ),
    (
        "desk/layout.html",
        include_str!("../../config/templates/desk/layout.html"),
    ),
    (
        "desk/sign_in.html",
        include_str!("../../config/templates/desk/sign_in.html"),
    ),
    (
        "desk/queue.html",
        include_str!("../../config/templates/desk/queue.html"),
    ),
    (
        "desk/ticket.html",
        include_str!("../../config/templates/desk/ticket.html"),
    ),
    (
        "desk/text_modules.html",
        include_str!("../../config/templates/desk/text_modules.html"),
    ),
    (
        "desk/message.html",
        include_str!("../../config/templates/desk/message.html"),
    ),
    (
        "desk/overdue.html",
        include_str!("../../config/templates/desk/overdue.html"),
    ),
    (
        "desk/sla.html",
        include_str!("../../config/templates/desk/sla.html"),
    ),
    (
        "desk/urgent.html",
        include_str!("../../config/templates/desk/urgent.html"),
    ),
    (
        "desk/workload.html",
        include_str!("../../config/templates/desk/workload.html"),
    ),
    (
        "desk/staff.html",
        include_str!("../../config/templates/desk/staff.html"),
    ),
    (
        "desk/staff_member.html",
        include_str!("../../config/templates/desk/staff_member.html"),
    ),
    (
        "desk/quarantine.html",
        include_str!("../../config/templates/desk/quarantine.html"),
    ),
    (
        "desk/quarantine_mail.html",
        include_str!("../../config/templates/desk/quarantine_mail.html"),
    ),
    // Reply review (CONTRACT §8).
    (
        "alerts/review_urgent/subject.txt",
        include_str!("../../config/templates/alerts/review_urgent/subject.txt"),
    ),
    (
        "alerts/review_urgent/body.txt",
        include_str!("../../config/templates/alerts/review_urgent/body.txt"),
    ),
    (
        "alerts/review_reminder/subject.txt",
        include_str!("../../config/templates/alerts/review_reminder/subject.txt"),
    ),
    (
        "alerts/review_reminder/body.txt",
        include_str!("../../config/templates/alerts/review_reminder/body.txt"),
    ),
    (
        "desk/reviews.html",
        include_str!("../../config/templates/desk/reviews.html"),
    ),
    (
        "desk/thread.html",
        include_str!("../../config/templates/desk/thread.html"),
    ),
    (
        "desk/review.html",
        include_str!("../../config/templates/desk/review.html"),
    ),
    (
        "desk/statistics.html",
        include_str!("../../config/templates/desk/statistics.html"),
    ),
    (
        "notice/subject.txt",
        include_str!("../../config/templates/notice/subject.txt"),
    ),
    (
        "notice/body.txt",
        include_str!("../../config/templates/notice/body.txt"),
    ),
    (
        "pages/my_sign_in.html",
        include_str!("../../config/templates/pages/my_sign_in.html"),
    ),
    (
        "pages/my_thread.html",
        include_str!("../../config/templates/pages/my_thread.html"),
    ),
];

#[derive(Debug, thiserror::Error)]
#[error("template error: {0}")]
pub struct TemplateError(String);

impl From<minijinja::Error> for TemplateError {
    fn from(e: minijinja::Error) -> Self {
        // The alternate form names the template and line, which is what a centre editing one needs.
        Self(format!("{e:#}"))
    }
}

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Loads the built-in templates, then any same-named files under `dir`; all are parsed
    /// now, so a broken template stops the start instead of a mail later.
    pub fn load(dir: Option<&Path>) -> Result<Self, TemplateError> {
        Self::load_some(dir, true)
    }

    /// The mail templates alone (`.txt`), for the commands: they may queue mail but show no
    /// page, and `ingest`, started once per mail by an MTA, should not parse the pages for it.
    /// A broken page template still stops `serve`.
    pub fn load_mail(dir: Option<&Path>) -> Result<Self, TemplateError> {
        Self::load_some(dir, false)
    }

    fn load_some(dir: Option<&Path>, pages: bool) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        // An absent value (a field left empty, a name not given) shows as nothing, never as
        // "None": not in a form field, not in a greeting.
        env.set_formatter(|out, state, value| {
            if value.is_none() || value.is_undefined() {
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        env.add_filter("tel", tel_uri);
        if pages {
            Self::add_page_globals(&mut env);
        }
        if !pages && dir.is_none() {
            // A command with the built-in mail templates parses only those it renders (an
            // `ingest` of a follow-up renders none): the built-ins are checked by the tests,
            // and parsing them all was a tenth of a one-mail process.
            env.set_loader(|name| {
                Ok(BUILT_IN
                    .iter()
                    .find(|(n, _)| *n == name && is_mail(n))
                    .map(|(_, text)| (*text).to_string()))
            });
            return Ok(Self { env });
        }
        for (name, text) in BUILT_IN {
            if !pages && !is_mail(name) {
                continue;
            }
            let own = match dir {
                Some(dir) => match std::fs::read_to_string(dir.join(name)) {
                    Ok(text) => Some(text),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(TemplateError(format!("{name}: {e}"))),
                },
                None => None,
            };
            match own {
                Some(text) => env.add_template_owned(*name, text)?,
                None => env.add_template(name, text)?,
            }
        }
        Ok(Self { env })
    }

    /// What pages link to: the stylesheets and the script, by their content's hash.
    fn add_page_globals(env: &mut Environment<'static>) {
        env.add_global(
            "desk_stylesheet",
            minijinja::Value::from_safe_string(assets::desk_stylesheet_url().to_string()),
        );
        env.add_global(
            "desk_script",
            minijinja::Value::from_safe_string(assets::desk_script_url().to_string()),
        );
        env.add_global(
            "stylesheet",
            minijinja::Value::from_safe_string(assets::stylesheet_url().to_string()),
        );
    }

    pub fn render(&self, name: &str, ctx: impl Serialize) -> Result<String, TemplateError> {
        Ok(self.env.get_template(name)?.render(ctx)?)
    }
}

/// `{{ number | tel }}`: a `tel:` address a phone can dial, e.g. `tel:0120279338` for
/// `0120-279-338`.
/// Mail templates are the `.txt` ones; the rest are pages.
fn is_mail(name: &str) -> bool {
    name.ends_with(".txt")
}

fn tel_uri(number: &str) -> String {
    let digits: String = number
        .chars()
        .enumerate()
        .filter(|&(i, c)| c.is_ascii_digit() || (i == 0 && c == '+'))
        .map(|(_, c)| c)
        .collect();
    format!("tel:{digits}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_values_show_as_nothing() {
        let mut env = Templates::load(None).unwrap();
        env.env
            .add_template("t", "[{{ a }}][{{ b }}][{{ c }}]")
            .unwrap();
        let out = env
            .render(
                "t",
                minijinja::context! { a => None::<String>, b => Some("花子") },
            )
            .unwrap();
        assert_eq!(out, "[][花子][]");
        assert_eq!(tel_uri("011-863-8733"), "tel:0118638733");
        assert_eq!(tel_uri("+81 11 863 8733"), "tel:+81118638733");
        assert_eq!(tel_uri("0120-279-338（無料）"), "tel:0120279338");
    }

    #[test]
    fn built_ins_parse_and_html_is_escaped() {
        let t = Templates::load(None).unwrap();
        let html = t
            .render(
                "pages/message.html",
                minijinja::context! {
                    title => "<script>x</script>",
                    paragraphs => vec!["a & b"],
                    center => minijinja::context! { name => "C", phone => "1" },
                },
            )
            .unwrap();
        assert!(html.contains("&lt;script&gt;x"));
        assert!(html.contains("a &amp; b"));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn the_commands_parse_each_mail_template_when_first_rendered_and_show_no_page() {
        let lazy = Templates::load_mail(None).unwrap();
        let eager = Templates::load(None).unwrap();
        let ctx = minijinja::context! {
            reference => "ABCD-1234",
            name => "花子",
            center => minijinja::context! { name => "センター", phone => "011-000-0000" },
        };
        let mails: Vec<&str> = BUILT_IN
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| is_mail(n))
            .collect();
        assert!(mails.len() > 10, "{mails:?}");
        let mut rendered = 0;
        for name in mails {
            // Parsed on first use, each one parses; rendered, each gives what the eager
            // environment gives.
            lazy.env.get_template(name).unwrap();
            let (a, b) = (lazy.render(name, &ctx), eager.render(name, &ctx));
            rendered += usize::from(a.is_ok());
            assert_eq!(
                a.map_err(|e| e.to_string()),
                b.map_err(|e| e.to_string()),
                "{name}"
            );
        }
        assert!(rendered > 10, "{rendered}");
        assert!(lazy.render("pages/message.html", &ctx).is_err());
    }

    #[test]
    fn a_centre_file_replaces_one_template() {
        let dir = std::env::temp_dir().join(format!("madoguchi-tpl-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("acknowledgement")).unwrap();
        std::fs::write(
            dir.join("acknowledgement/subject.txt"),
            "受付 {{ reference }}",
        )
        .unwrap();
        let t = Templates::load(Some(&dir)).unwrap();
        let subject = t
            .render(
                "acknowledgement/subject.txt",
                minijinja::context! { reference => "X" },
            )
            .unwrap();
        assert_eq!(subject, "受付 X");
        std::fs::write(dir.join("acknowledgement/subject.txt"), "{% if %}").unwrap();
        let err = Templates::load(Some(&dir)).err().unwrap();
        assert!(err.to_string().contains("subject.txt"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
