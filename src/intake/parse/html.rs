//! HTML-only mail as readable plain text: no markup, nothing from `<head>`, `<script>` or
//! `<style>`, entities decoded, line breaks where the HTML breaks lines.
//!
//! mail-parser's own `html_to_text` misses `<script type=...>` and `<style type=...>` (any
//! attribute defeats it), so their content leaked into the text; `<p>` and `<div>` did not
//! start lines either. This is a small tokenizer, not a full HTML parser: mail HTML is
//! simple, and a mistake here costs layout, never text.

use mail_parser::decoders::html::add_html_token;

/// Elements whose content is never shown. (`noscript` is: mail clients run no scripts.)
const HIDDEN: &[&str] = &["head", "script", "style", "title", "template"];

/// Elements that start and end a line.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "caption",
    "center",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "section",
    "summary",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
];

pub(super) fn html_to_text(html: &str) -> String {
    let mut w = Writer::default();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |i| &after[i + 3..]);
            continue;
        }
        if c == '<'
            && let Some(tag) = Tag::parse(rest)
        {
            rest = &rest[tag.len..];
            if !tag.closing && !tag.self_closing && HIDDEN.contains(&tag.name.as_str()) {
                rest = skip_element(rest, &tag.name);
            } else {
                w.tag(&tag);
            }
            continue;
        }
        if c == '&'
            && let Some((decoded, len)) = entity(rest)
        {
            w.literal(&decoded);
            rest = &rest[len..];
            continue;
        }
        w.char(c);
        rest = &rest[c.len_utf8()..];
    }
    w.finish()
}

struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    /// Bytes from `<` to `>` inclusive.
    len: usize,
}

impl Tag {
    /// The tag at the start of `s`, or `None` when the `<` starts no tag (`5 < 10`).
    fn parse(s: &str) -> Option<Tag> {
        let body = s.strip_prefix('<')?;
        let closing = body.starts_with('/');
        let named = body.trim_start_matches('/');
        let first = named.chars().next()?;
        if !(first.is_ascii_alphabetic() || (!closing && (first == '!' || first == '?'))) {
            return None;
        }
        // The end is the first `>` outside quoted attribute values.
        let mut quote = None;
        let mut end = None;
        for (i, ch) in body.char_indices() {
            match (quote, ch) {
                (None, '"' | '\'') => quote = Some(ch),
                (Some(q), _) if ch == q => quote = None,
                (None, '>') => {
                    end = Some(i);
                    break;
                }
                _ => (),
            }
        }
        let end = end?;
        let name: String = named
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':'))
            .collect::<String>()
            .to_ascii_lowercase();
        Some(Tag {
            name,
            closing,
            self_closing: body[..end].ends_with('/'),
            len: end + 2,
        })
    }
}

/// What follows a hidden element's end tag. An element never closed hides nothing more:
/// losing a mail's text to a stray `<style>` is worse than showing some CSS.
fn skip_element<'a>(rest: &'a str, name: &str) -> &'a str {
    let lower = rest.to_ascii_lowercase();
    let mut end = lower.find(&format!("</{name}"));
    if name == "head" {
        // `<head>` is often left open; `<body>` ends it all the same.
        end = match (end, lower.find("<body")) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let Some(start) = end else { return rest };
    if lower[start..].starts_with("<body") {
        return &rest[start..];
    }
    rest[start..]
        .find('>')
        .map_or("", |i| &rest[start + i + 1..])
}

/// A character reference at the start of `s` (`&amp;`, `&#12288;`, `&#x3002;`) and its
/// length; `None` for a bare `&`, which is then kept as written.
fn entity(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix('&')?;
    let len = body.find(';')?;
    let name = &body[..len];
    if name.is_empty() || len > 32 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'#')
    {
        return None;
    }
    let token = &s[..len + 2];
    let mut out = String::new();
    add_html_token(&mut out, token.as_bytes(), false);
    // An unknown name comes back unchanged; keep it as text then.
    (out != token).then_some((out, token.len()))
}

#[derive(Default)]
struct Writer {
    out: String,
    /// Whitespace was seen and not yet written (HTML collapses runs of it).
    space: bool,
    /// Depth inside `<pre>`, where whitespace is kept.
    pre: usize,
}

impl Writer {
    fn char(&mut self, c: char) {
        if self.pre > 0 {
            if c != '\r' {
                self.out.push(c);
            }
        } else if c.is_ascii_whitespace() {
            self.space = true;
        } else {
            self.flush_space();
            self.out.push(c);
        }
    }

    fn literal(&mut self, s: &str) {
        self.flush_space();
        self.out.push_str(s);
    }

    fn flush_space(&mut self) {
        if self.space && !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push(' ');
        }
        self.space = false;
    }

    /// Starts a new line unless one was just started.
    fn block(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.space = false;
    }

    fn tag(&mut self, tag: &Tag) {
        match tag.name.as_str() {
            "br" => {
                self.out.push('\n');
                self.space = false;
            }
            "pre" => {
                self.block();
                self.pre = if tag.closing {
                    self.pre.saturating_sub(1)
                } else {
                    self.pre + 1
                };
            }
            // Table cells side by side, apart.
            "td" | "th" if !tag.closing => self.space = true,
            name if BLOCKS.contains(&name) => self.block(),
            _ => (),
        }
    }

    /// Trailing blanks go, no-break spaces become spaces, at most one empty line in a row.
    fn finish(self) -> String {
        let text = self.out.replace('\u{a0}', " ");
        let mut out = String::with_capacity(text.len());
        let mut empty_run = 0;
        for line in text.split('\n').map(str::trim_end) {
            if line.is_empty() {
                empty_run += 1;
                if empty_run > 1 || out.is_empty() {
                    continue;
                }
            } else {
                empty_run = 0;
            }
            out.push_str(line);
            out.push('\n');
        }
        out.trim_end().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_elements_are_dropped_even_with_attributes() {
        let html = "<html><HEAD><Title>t</Title><style type=\"text/css\">p{}</style></HEAD>\
                    <body><script type='text/javascript'>if (a<b) x();</script>本文\
                    <STYLE media=all>.x{}</STYLE></body></html>";
        assert_eq!(html_to_text(html), "本文");
    }

    #[test]
    fn an_unclosed_head_ends_at_body_and_an_unclosed_style_hides_nothing() {
        assert_eq!(html_to_text("<head><meta charset=utf-8><body>本文"), "本文");
        assert_eq!(html_to_text("<style>p{}\n本文"), "p{} 本文");
    }

    #[test]
    fn lines_break_at_br_and_blocks() {
        assert_eq!(html_to_text("a<br>b<br/>c<BR />d"), "a\nb\nc\nd");
        assert_eq!(
            html_to_text("<p>一</p><p>二</p>三<div>四</div>"),
            "一\n二\n三\n四"
        );
        assert_eq!(
            html_to_text("<div>a</div><div><br></div><div>b</div>"),
            "a\n\nb"
        );
        assert_eq!(
            html_to_text("a<br><br><br><br>b"),
            "a\n\nb",
            "one empty line at most"
        );
        assert_eq!(html_to_text("<ul><li>x</li><li>y</li></ul>"), "x\ny");
        assert_eq!(
            html_to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"),
            "a b\nc"
        );
    }

    #[test]
    fn whitespace_collapses_outside_pre() {
        assert_eq!(html_to_text("  a \r\n\t b  "), "a b");
        assert_eq!(html_to_text("<p>\n  本文\n</p>"), "本文");
        assert_eq!(html_to_text("<pre>a\r\n  b</pre>c"), "a\n  b\nc");
        assert_eq!(html_to_text("x<span> </span>y"), "x y");
    }

    #[test]
    fn entities_are_decoded() {
        assert_eq!(
            html_to_text("Q&amp;A &lt;b&gt; &quot;q&quot; &#39;s&#x3002;"),
            "Q&A <b> \"q\" 's。"
        );
        assert_eq!(
            html_to_text("a&nbsp;&nbsp;b &copy;&yen;&#12288;c"),
            "a  b ©¥\u{3000}c"
        );
        assert_eq!(
            html_to_text("AT&T & &unknown; &amp"),
            "AT&T & &unknown; &amp",
            "kept as written"
        );
    }

    #[test]
    fn stray_angle_brackets_and_comments() {
        assert_eq!(html_to_text("5 < 10 > 3"), "5 < 10 > 3");
        assert_eq!(html_to_text("a<!-- <p>hidden</p> -->b"), "ab");
        assert_eq!(html_to_text("a<!-- never closed"), "a");
        assert_eq!(html_to_text("<!DOCTYPE html><?xml x?>a"), "a");
        assert_eq!(html_to_text("<a href=\"x>y\" title='>'>link</a>"), "link");
        assert_eq!(
            html_to_text("<o:p></o:p>x<p"),
            "x<p",
            "an unfinished tag is text"
        );
        assert_eq!(html_to_text("</>x"), "</>x");
    }
}
