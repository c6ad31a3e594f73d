//! Settings: layering, environment overrides and validation.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_example_reply_address_is_recognised() {
    let mut center = Settings::defaults().unwrap().center;
    assert!(center.reply_address_is_example(), "the shipped default");
    for example in [
        "a@EXAMPLE.com",
        "x@mail.example.net",
        "x@desk.example",
        "x@example.org.",
    ] {
        center.reply_address = example.into();
        assert!(center.reply_address_is_example(), "{example}");
    }
    for own in [
        "soudan@kokoro-recovery.org",
        "x@notexample.org",
        "x@example.org.jp",
    ] {
        center.reply_address = own.into();
        assert!(!center.reply_address_is_example(), "{own}");
    }
}

#[test]
fn defaults_hold_the_contract_values() {
    let s = Settings::defaults().unwrap();
    assert_eq!(s.server.bind, "127.0.0.1:8080");
    assert_eq!(s.database.url, "sqlite://data/madoguchi.db");
    assert_eq!(s.sla.reply_days, 10);
    assert_eq!(s.sla.closures, vec!["12-29..01-03".to_string()]);
    assert_eq!(s.smtp.transport, MailTransport::File);
    assert_eq!(s.intake.rate_limit_per_hour, 20);
    assert_eq!(s.center.phone, "011-863-8733");
    assert!(!s.imap.enabled);
}

#[test]
fn crisis_lines_default_to_a_24_hour_line_and_can_be_replaced() {
    let s = Settings::defaults().unwrap();
    let yorisoi = &s.center.crisis_lines[0];
    assert_eq!(
        (
            yorisoi.name.as_str(),
            yorisoi.number.as_str(),
            yorisoi.hours.as_str()
        ),
        ("よりそいホットライン", "0120-279-338", "24時間・無料")
    );
    let s = Settings::load_from(
        None,
        env(&[(
            "MADOGUCHI_CENTER__CRISIS_LINES",
            r#"[{name = "夜の電話", number = "0120-000-000", hours = "22時～6時"}]"#,
        )]),
    )
    .unwrap();
    assert_eq!(s.center.crisis_lines.len(), 1);
    assert_eq!(s.center.crisis_lines[0].name, "夜の電話");
    let err = Settings::load_from(
        None,
        env(&[(
            "MADOGUCHI_CENTER__CRISIS_LINES",
            r#"[{name = "", number = "", hours = ""}]"#,
        )]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("center.crisis_lines"), "{err}");
}

#[test]
fn env_overrides_by_the_type_of_the_default() {
    let s = Settings::load_from(
        None,
        env(&[
            ("MADOGUCHI_DATABASE__URL", "postgres://u@h:5432/d"),
            ("MADOGUCHI_SMTP__PORT", "2525"),
            ("MADOGUCHI_SMTP__PASSWORD", "12345"),
            ("MADOGUCHI_IMAP__ENABLED", "true"),
            ("MADOGUCHI_SLA__CLOSURES", "[\"08-13..08-16\"]"),
            ("UNRELATED", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(s.database.url, "postgres://u@h:5432/d");
    assert_eq!(s.smtp.port, 2525);
    assert_eq!(s.smtp.password, "12345");
    assert!(s.imap.enabled);
    assert_eq!(s.sla.closures, vec!["08-13..08-16".to_string()]);
}

#[test]
fn unknown_or_malformed_env_is_refused() {
    let err = Settings::load_from(None, env(&[("MADOGUCHI_SMTP__PROT", "1")])).unwrap_err();
    assert!(matches!(err, ConfigError::UnknownEnv(_)), "{err}");
    let err = Settings::load_from(None, env(&[("MADOGUCHI_SMTP__PORT", "x")])).unwrap_err();
    assert!(matches!(err, ConfigError::BadEnv(..)), "{err}");
}

#[test]
fn imap_tls_is_one_of_three_words_and_a_wrong_one_names_its_key() {
    let s = Settings::load_from(None, env(&[("MADOGUCHI_IMAP__TLS", "starttls")])).unwrap();
    assert_eq!(s.imap.tls, ImapTls::Starttls);
    assert_eq!(Settings::defaults().unwrap().imap.tls, ImapTls::None);
    let err = Settings::load_from(None, env(&[("MADOGUCHI_IMAP__TLS", "ssl")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("imap.tls"), "{err}");
    assert!(err.contains("`none`, `starttls`, `tls`"), "{err}");
}

#[test]
fn the_imap_ca_file_adds_its_certificates() {
    let path = std::env::temp_dir().join(format!("madoguchi-ca-{}.pem", std::process::id()));
    let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(&path, ca.cert.pem().repeat(2)).unwrap();
    let mut s = Settings::defaults().unwrap();
    assert!(s.imap.extra_roots().unwrap().is_empty());
    s.imap.ca_file = path.display().to_string();
    assert_eq!(s.imap.extra_roots().unwrap().len(), 2);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_file_is_layered_over_the_defaults() {
    let dir = std::env::temp_dir().join(format!("madoguchi-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("site.toml");
    std::fs::write(
        &path,
        "[sla]\nmode = \"business\"\n[center]\nname = \"テスト\"\n",
    )
    .unwrap();
    let s = Settings::load_from(Some(&path), std::iter::empty()).unwrap();
    assert_eq!(s.sla.mode, SlaMode::Business);
    assert_eq!(s.center.name, "テスト");
    assert_eq!(s.sla.reply_days, 10, "untouched keys keep their default");
    std::fs::write(&path, "[sla]\nreply_dayz = 3\n").unwrap();
    assert!(Settings::load_from(Some(&path), std::iter::empty()).is_err());
    std::fs::write(&path, "[sla]\nmode = \"weekly\"\n").unwrap();
    let err = Settings::load_from(Some(&path), std::iter::empty()).unwrap_err();
    assert!(
        err.to_string().contains("`calendar` or `business`")
            && err.to_string().contains("sla.mode"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
