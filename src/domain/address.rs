//! Mail addresses on the wire (docs/CONTRACT.md §5). Japanese carriers issued addresses such
//! as `taro..yamada.@docomo.ne.jp` for years (dots in a row, a dot before `@`); they are
//! not RFC 5321 Dot-strings, so in an envelope or header the local part is sent quoted:
//! `"taro..yamada."@docomo.ne.jp`. The address is stored and compared as the person gave it.

/// The address as written in `RCPT TO` and `To:`: the local part as it is when it is a
/// Dot-string, otherwise as a quoted string. `None` without a local part and a domain.
pub fn wire_form(address: &str) -> Option<String> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    if is_dot_string(local) || is_quoted(local) {
        return Some(format!("{local}@{domain}"));
    }
    let mut quoted = String::with_capacity(local.len() + 2);
    quoted.push('"');
    for c in local.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    Some(format!("{quoted}@{domain}"))
}

/// The key under which addresses share the acknowledgement cap: letter case does not make
/// another mailbox for this purpose (`Victim@` and `vIctim@` share one cap).
pub fn cap_key(address: &str) -> String {
    // ASCII only, as SQL `lower` does on SQLite; addresses the form takes are ASCII.
    address.trim().to_ascii_lowercase()
}

/// RFC 5321 Dot-string: atoms of atext joined by single dots.
fn is_dot_string(local: &str) -> bool {
    local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b))
    })
}

fn is_quoted(local: &str) -> bool {
    local.len() >= 2 && local.starts_with('"') && local.ends_with('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_addresses_are_quoted_on_the_wire() {
        assert_eq!(
            wire_form("taro..yamada.@docomo.ne.jp").as_deref(),
            Some("\"taro..yamada.\"@docomo.ne.jp")
        );
        assert_eq!(
            wire_form(".hanako@ezweb.ne.jp").as_deref(),
            Some("\".hanako\"@ezweb.ne.jp")
        );
        assert_eq!(
            wire_form("a\"b\\c@x.jp").as_deref(),
            Some("\"a\\\"b\\\\c\"@x.jp")
        );
    }

    #[test]
    fn plain_addresses_stay_as_they_are() {
        assert_eq!(
            wire_form("taro.yamada+soudan@docomo.ne.jp").as_deref(),
            Some("taro.yamada+soudan@docomo.ne.jp")
        );
        assert_eq!(
            wire_form("\"already..quoted\"@x.jp").as_deref(),
            Some("\"already..quoted\"@x.jp")
        );
        assert_eq!(wire_form("no-at-sign"), None);
        assert_eq!(wire_form("@x.jp"), None);
        assert_eq!(wire_form("a@"), None);
    }

    #[test]
    fn the_cap_ignores_letter_case() {
        assert_eq!(cap_key("Victim@Example.JP"), cap_key("vIctim@example.jp"));
        assert_ne!(cap_key("victim@example.jp"), cap_key("victim2@example.jp"));
    }
}
