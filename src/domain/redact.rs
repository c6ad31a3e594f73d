//! Keeps mail addresses out of logs: SMTP and database errors can quote them.

/// Replaces every word that holds an `@` with `<address>`.
pub fn addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.contains('@') {
            out.push_str("<address>");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | '"' | ',' | ';' | '=') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_hidden_and_the_rest_kept() {
        assert_eq!(
            addresses("550 5.1.1 <taro@example.jp>: Recipient address rejected"),
            "550 5.1.1 <<address>>: Recipient address rejected"
        );
        assert_eq!(
            addresses("Key (email)=(a@b.jp) exists"),
            "Key (email)=(<address>) exists"
        );
        assert_eq!(addresses("no address here"), "no address here");
    }
}
