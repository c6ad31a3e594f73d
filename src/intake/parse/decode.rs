//! Bytes to text: transfer encodings, charsets (the Japanese ones with care), RFC 2047
//! words that split a character, and `format=flowed`.
//!
//! Everything here is lenient on purpose: a mail from an old phone or a broken web form is
//! still a person asking for help, so bad input is decoded as well as it can be, never
//! refused.

use encoding_rs::{EUC_JP, Encoding, ISO_2022_JP, REPLACEMENT, SHIFT_JIS, UTF_8};
use mail_parser::decoders::charsets::{DecoderFnc, map::charset_decoder};

const ESC: u8 = 0x1b;

/// Base64 that skips anything outside the alphabet (line ends, stray spaces, junk) and
/// restarts after padding, so concatenated chunks decode too.
pub(super) fn base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let (mut acc, mut n) = (0u32, 0u8);
    for &b in input {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                flush_base64(&mut out, acc, n);
                (acc, n) = (0, 0);
                continue;
            }
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            (acc, n) = (0, 0);
        }
    }
    flush_base64(&mut out, acc, n);
    out
}

fn flush_base64(out: &mut Vec<u8>, acc: u32, n: u8) {
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => (),
    }
}

/// Quoted-printable that keeps an `=` which starts no escape as written (web forms send
/// `1+1=2` unencoded) and drops the trailing blanks of a line (RFC 2045 §6.7 rule 3).
pub(super) fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let blanks = |s: &[u8]| s.iter().take_while(|c| matches!(c, b' ' | b'\t')).count();
    let at_line_end = |s: &[u8]| s.is_empty() || s.starts_with(b"\r\n") || s.starts_with(b"\n");
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        let rest = &input[i + 1..];
        if b == b'=' {
            let ws = blanks(rest);
            let after = &rest[ws..];
            if at_line_end(after) {
                // A soft line break: the line goes on.
                i += 1
                    + ws
                    + if after.starts_with(b"\r\n") {
                        2
                    } else {
                        after.len().min(1)
                    };
                continue;
            }
            if let (Some(h), Some(l)) = (rest.first().and_then(hex), rest.get(1).and_then(hex)) {
                out.push((h << 4) | l);
                i += 3;
                continue;
            }
        } else if matches!(b, b' ' | b'\t') {
            let ws = 1 + blanks(rest);
            if at_line_end(&input[i + ws..]) {
                i += ws;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

fn hex(c: &u8) -> Option<u8> {
    (*c as char).to_digit(16).map(|d| d as u8)
}

/// How a charset label is decoded.
enum Charset {
    /// ISO-2022-JP and its relatives (CP50220..2, -1, -2, -3): all read by encoding_rs's
    /// decoder, whose JIS X 0208 table is Microsoft's (NEC row 13 `①㈱№`, NEC-selected IBM
    /// rows with `髙`, `～` as U+FF5E), i.e. CP50220 for everything Outlook and iPhone send.
    Jis,
    Known(&'static Encoding),
    /// Labels only mail-parser knows (UTF-7, some IBM code pages).
    Legacy(DecoderFnc),
    /// Missing, US-ASCII or unknown: look at the bytes.
    Sniff,
}

fn charset(label: Option<&str>) -> Charset {
    let Some(label) = label.map(|l| {
        l.trim()
            .trim_matches(['"', '\''])
            .trim()
            .to_ascii_lowercase()
    }) else {
        return Charset::Sniff;
    };
    // Old Japanese mailers label JIS or Shift_JIS text "us-ascii" or nothing at all.
    if matches!(
        label.as_str(),
        "" | "us-ascii" | "ascii" | "iso646-us" | "unknown-8bit" | "x-unknown" | "default"
    ) {
        return Charset::Sniff;
    }
    if label.starts_with("iso-2022-jp")
        || matches!(
            label.as_str(),
            "iso2022jp"
                | "csiso2022jp2"
                | "cp50220"
                | "cp50221"
                | "cp50222"
                | "x-iso-2022-jp"
                | "jis"
        )
    {
        return Charset::Jis;
    }
    // Names for CP932 and EUC-JP that the WHATWG label list lacks; the WHATWG decoders for
    // Shift_JIS and EUC-JP already have the Microsoft extensions.
    if matches!(
        label.as_str(),
        "cp932"
            | "x-ms-cp932"
            | "ibm-943"
            | "ibm943"
            | "sjis-win"
            | "sjis-open"
            | "shift_jis-2004"
            | "shift_jisx0213"
    ) {
        return Charset::Known(SHIFT_JIS);
    }
    if matches!(
        label.as_str(),
        "eucjp" | "euc-jp-ms" | "eucjp-ms" | "eucjp-win" | "euc-jis-2004" | "euc-jisx0213"
    ) {
        return Charset::Known(EUC_JP);
    }
    match Encoding::for_label(label.as_bytes()) {
        Some(e) if e == ISO_2022_JP => Charset::Jis,
        // The "replacement" encoding turns a whole text into one U+FFFD: better to guess.
        Some(e) if e == REPLACEMENT => Charset::Sniff,
        Some(e) => Charset::Known(e),
        None => charset_decoder(label.as_bytes()).map_or(Charset::Sniff, Charset::Legacy),
    }
}

/// A text part's (or header's) bytes as text, given its charset label if any.
pub(super) fn text(bytes: &[u8], label: Option<&str>) -> String {
    match charset(label) {
        // ISO-2022-JP is 7-bit; 8-bit bytes mean the label is wrong (Shift_JIS sent as JIS).
        Charset::Jis if bytes.is_ascii() => jis(bytes),
        Charset::Jis | Charset::Sniff => sniff(bytes),
        // A labelled UTF-8 text with a bad byte is still UTF-8 (a cut character); reading
        // it as Shift_JIS would garble every line.
        Charset::Known(e) if e == UTF_8 => String::from_utf8_lossy(bytes).into_owned(),
        Charset::Known(e) => e.decode(bytes).0.into_owned(),
        Charset::Legacy(f) => f(bytes),
    }
}

fn jis(bytes: &[u8]) -> String {
    ISO_2022_JP
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

/// Unlabelled bytes: ASCII with escapes is ISO-2022-JP; valid UTF-8 is UTF-8; otherwise
/// Shift_JIS (CP932) or EUC-JP, whichever decodes cleanly, trying first the one the byte
/// ranges suggest (EUC-JP never uses 0x80-0xA0 but for its SS2/SS3 bytes).
fn sniff(bytes: &[u8]) -> String {
    if bytes.is_ascii() {
        return if bytes.contains(&ESC) {
            jis(bytes)
        } else {
            String::from_utf8_lossy(bytes).into_owned()
        };
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    let euc_like = bytes
        .iter()
        .all(|&b| b < 0x80 || b == 0x8e || b == 0x8f || b >= 0xa1);
    let order = if euc_like {
        [EUC_JP, SHIFT_JIS]
    } else {
        [SHIFT_JIS, EUC_JP]
    };
    for enc in order {
        if let Some(s) = enc.decode_without_bom_handling_and_without_replacement(bytes) {
            return s.into_owned();
        }
    }
    order[0].decode_without_bom_handling(bytes).0.into_owned()
}

/// A raw header value that mail-parser cannot read: raw JIS (with escapes) or 8-bit bytes
/// that are not UTF-8 (Shift_JIS from old mailers). `None` when the bytes are fine as they
/// are (ASCII without escapes, or UTF-8 per RFC 6532).
pub(super) fn header_bytes(raw: &[u8]) -> Option<String> {
    (raw.contains(&ESC) || std::str::from_utf8(raw).is_err()).then(|| sniff(raw))
}

/// RFC 2047 decoding that joins the bytes of adjacent words in the same charset before
/// decoding them, so a character split across two words (which some mailers do) survives.
/// Whitespace between adjacent encoded words is dropped (RFC 2047 §6.2).
pub(super) fn rfc2047(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut pending: Option<(String, Vec<u8>)> = None;
    let mut rest = value;
    while let Some((start, end, charset, bytes)) = next_word(rest) {
        let before = &rest[..start];
        let adjacent = pending.is_some() && before.chars().all(char::is_whitespace);
        match pending.take() {
            Some((cs, mut buf)) if adjacent && cs == charset => {
                buf.extend_from_slice(&bytes);
                pending = Some((cs, buf));
            }
            previous => {
                if let Some((cs, buf)) = previous {
                    out.push_str(&text(&buf, Some(&cs)));
                }
                if !adjacent {
                    out.push_str(before);
                }
                pending = Some((charset, bytes));
            }
        }
        rest = &rest[end..];
    }
    if let Some((cs, buf)) = pending {
        out.push_str(&text(&buf, Some(&cs)));
    }
    out.push_str(rest);
    out
}

/// The next well-formed `=?charset?B|Q?text?=` in `s`: its byte range, its charset (lower
/// case, RFC 2231 language dropped) and its decoded bytes.
fn next_word(s: &str) -> Option<(usize, usize, String, Vec<u8>)> {
    let mut from = 0;
    while let Some(found) = s[from..].find("=?") {
        let start = from + found;
        if let Some((len, charset, bytes)) = word_at(&s[start + 2..]) {
            return Some((start, start + 2 + len, charset, bytes));
        }
        from = start + 2;
    }
    None
}

fn word_at(s: &str) -> Option<(usize, String, Vec<u8>)> {
    let (charset, rest) = s.split_once('?')?;
    let (enc, rest) = rest.split_once('?')?;
    let end = rest.find("?=")?;
    let payload = &rest[..end];
    if charset.is_empty()
        || charset.contains(char::is_whitespace)
        || payload.contains(char::is_whitespace)
    {
        return None;
    }
    let bytes = match enc {
        "B" | "b" => base64(payload.as_bytes()),
        "Q" | "q" => q_word(payload.as_bytes()),
        _ => return None,
    };
    // charset ? enc ? payload ?=
    let len = charset.len() + enc.len() + end + 4;
    let charset = charset
        .split('*')
        .next()
        .unwrap_or(charset)
        .to_ascii_lowercase();
    Some((len, charset, bytes))
}

fn q_word(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len());
    let mut i = 0;
    while let Some(&b) = payload.get(i) {
        match (
            b,
            payload.get(i + 1).and_then(hex),
            payload.get(i + 2).and_then(hex),
        ) {
            (b'=', Some(h), Some(l)) => {
                out.push((h << 4) | l);
                i += 3;
                continue;
            }
            (b'_', ..) => out.push(b' '),
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

/// CRLF and lone CR become LF; trailing whitespace at the very end goes.
pub(super) fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .trim_end()
        .to_owned()
}

/// Undoes RFC 3676 `format=flowed` on LF text: a line ending in a space continues on the
/// next line of the same quote depth (with `delsp=yes` the space goes too, as Japanese
/// text needs); space-stuffing is removed; `-- ` (signature separator) never flows.
pub(super) fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<(usize, String)> = None;
    for line in text.split('\n') {
        let depth = line.len() - line.trim_start_matches('>').len();
        let content = &line[depth..];
        let content = content.strip_prefix(' ').unwrap_or(content);
        // A change of quote depth ends a paragraph whatever its last line said.
        if open.as_ref().is_some_and(|(d, _)| *d != depth)
            && let Some((d, para)) = open.take()
        {
            emit_line(&mut out, d, &para);
        }
        let flowed = content.ends_with(' ') && content != "-- ";
        let piece = if flowed && delsp {
            &content[..content.len() - 1]
        } else {
            content
        };
        let mut para = open.take().map(|(_, p)| p).unwrap_or_default();
        para.push_str(piece);
        if flowed {
            open = Some((depth, para));
        } else {
            emit_line(&mut out, depth, &para);
        }
    }
    if let Some((d, para)) = open {
        emit_line(&mut out, d, &para);
    }
    out.pop(); // the newline after the last line, which `split` invented
    out
}

fn emit_line(out: &mut String, depth: usize, content: &str) {
    if depth > 0 {
        out.push_str(&">".repeat(depth));
        if !content.is_empty() {
            out.push(' ');
        }
    }
    out.push_str(content);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_lenient() {
        assert_eq!(base64(b"44GC44GE"), "あい".as_bytes());
        assert_eq!(base64(b"44GC\r\n44GE\r\n"), "あい".as_bytes());
        assert_eq!(base64(b"YQ==YmM="), b"abc", "concatenated chunks");
        assert_eq!(base64(b"YWJj!!ZA"), b"abcd", "junk skipped");
        assert_eq!(base64(b"YWI"), b"ab", "missing padding");
        assert_eq!(base64(b""), b"");
    }

    #[test]
    fn quoted_printable_is_lenient() {
        assert_eq!(
            quoted_printable(b"=E3=81=\r\n=82"),
            "あ".as_bytes(),
            "soft break mid-character"
        );
        assert_eq!(quoted_printable(b"a=\nb"), b"ab");
        assert_eq!(
            quoted_printable(b"a=\n\nb"),
            b"a\nb",
            "one soft break, then a real one"
        );
        assert_eq!(
            quoted_printable(b"a= \r\nb"),
            b"ab",
            "blanks after a soft break"
        );
        assert_eq!(quoted_printable(b"1+1=2 =3D 2"), b"1+1=2 = 2");
        assert_eq!(
            quoted_printable(b"x=e3=81=82"),
            "xあ".as_bytes(),
            "lower-case hex"
        );
        assert_eq!(
            quoted_printable(b"a  \r\nb\t\n=20\r\nend="),
            b"a\r\nb\n \r\nend"
        );
        assert_eq!(quoted_printable(b"=G1="), b"=G1");
    }

    #[test]
    fn japanese_charsets_use_the_microsoft_tables() {
        // ① ㈱ № (NEC row 13), 髙 (NEC-selected IBM row 92), ～ (1-33) in JIS.
        let jis_bytes = b"\x1b$B-!-j-b|b!A\x1b(B ok";
        assert_eq!(text(jis_bytes, Some("ISO-2022-JP")), "①㈱№髙～ ok");
        assert_eq!(text(jis_bytes, Some("cp50220")), "①㈱№髙～ ok");
        // 髙 (IBM 0xFBFC), ～, －, ∥, ① in CP932.
        let sjis = b"\xfb\xfc\x81\x60\x81\x7c\x81\x61\x87\x40";
        for label in [
            "Shift_JIS",
            "shift-jis",
            "cp932",
            "Windows-31J",
            "x-sjis",
            "\"MS932\"",
        ] {
            assert_eq!(text(sjis, Some(label)), "髙～－∥①", "{label}");
        }
        assert_eq!(text(b"\xa4\xa2\xad\xa1", Some("euc-jp")), "あ①");
    }

    #[test]
    fn unlabelled_bytes_are_sniffed() {
        let jis_bytes = b"\x1b$B$3$s$K$A$O\x1b(B";
        assert_eq!(text(jis_bytes, None), "こんにちは");
        assert_eq!(
            text(jis_bytes, Some("us-ascii")),
            "こんにちは",
            "mislabelled"
        );
        assert_eq!(text("こんにちは".as_bytes(), None), "こんにちは");
        assert_eq!(
            text(b"\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd", None),
            "こんにちは"
        );
        assert_eq!(
            text(b"\xa4\xb3\xa4\xf3\xa4\xcb\xa4\xc1\xa4\xcf", None),
            "こんにちは"
        );
        assert_eq!(text(b"plain", Some("x-no-such-charset")), "plain");
        assert_eq!(
            text(b"\x82\xa0", Some("iso-2022-jp")),
            "あ",
            "8-bit bytes under a JIS label"
        );
    }

    #[test]
    fn other_labels() {
        assert_eq!(text("ok \u{e9}".as_bytes(), Some("utf8")), "ok é");
        assert_eq!(text(b"caf\xe9", Some("iso-8859-1")), "café");
        assert_eq!(
            text(b"\xe3\x81\x82\xe3", Some("UTF-8")),
            "あ\u{fffd}",
            "a cut character stays UTF-8"
        );
        assert_eq!(text(b"+ZeVnLIqe-", Some("utf-7")), "日本語");
        assert_eq!(
            text(b"abc", Some("iso-2022-kr")),
            "abc",
            "never the replacement encoding"
        );
    }

    #[test]
    fn header_bytes_only_fixes_what_is_broken() {
        assert_eq!(header_bytes(b" plain =?UTF-8?B?44GC?="), None);
        assert_eq!(header_bytes(" あ".as_bytes()), None, "UTF-8 is fine");
        assert_eq!(header_bytes(b" \x1b$B$\"\x1b(B").as_deref(), Some(" あ"));
        assert_eq!(header_bytes(b"\x82\xa0").as_deref(), Some("あ"));
    }

    #[test]
    fn rfc2047_joins_split_characters() {
        assert_eq!(rfc2047("=?UTF-8?B?44GC4w==?= =?UTF-8?B?gYQ=?="), "あい");
        assert_eq!(
            rfc2047("=?UTF-8?Q?=E3=81=82=E3?=\r\n =?utf-8?q?=81=84?="),
            "あい"
        );
        assert_eq!(
            rfc2047("Re: =?ISO-2022-JP?B?GyRCJCsbKEI=?= [#K7QM-4WXZ]"),
            "Re: か [#K7QM-4WXZ]"
        );
        assert_eq!(rfc2047("=?UTF-8?Q?a_b?= c =?UTF-8?Q?d?="), "a b c d");
        assert_eq!(
            rfc2047("=?UTF-8?B?44GC?= =?ISO-8859-1?Q?caf=E9?="),
            "あcafé",
            "different charsets: decoded apart, the gap still dropped"
        );
        assert_eq!(rfc2047("=?UTF-8*ja?B?44GC?="), "あ", "RFC 2231 language");
        assert_eq!(
            rfc2047("=?bad =?UTF-8?X?x?= =? end"),
            "=?bad =?UTF-8?X?x?= =? end"
        );
        assert_eq!(rfc2047("no words"), "no words");
    }

    #[test]
    fn newlines_are_normalised() {
        assert_eq!(normalize_newlines("a\r\nb\rc\n\n \r\n"), "a\nb\nc");
        assert_eq!(normalize_newlines("  lead\n"), "  lead");
    }

    #[test]
    fn flowed_text_is_joined() {
        let sent = "これは長い文章で \n途中で折り返されて \nいます。\n> 引用も \n> 続きます\n>> 深い\n-- \n署名";
        assert_eq!(
            unflow(sent, true),
            "これは長い文章で途中で折り返されています。\n> 引用も続きます\n>> 深い\n-- \n署名"
        );
        assert_eq!(unflow("a \nb\n From stuffed", false), "a b\nFrom stuffed");
        assert_eq!(
            unflow("> a \n>> b", false),
            "> a \n>> b",
            "depth change ends the paragraph"
        );
        assert_eq!(unflow("ends flowed ", true), "ends flowed");
        assert_eq!(unflow(">\n> x", false), ">\n> x");
    }
}
