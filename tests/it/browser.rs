//! The browser harness itself: script can be switched off, and pages are read as shown.

use crate::support::browser::browser;

#[test]
fn script_can_be_switched_off_for_a_no_script_test() {
    let page = "data:text/html;charset=utf-8,<title>x</title><p id=s>off</p>\
                <script>document.getElementById('s').textContent='on'</script>";
    let b = browser();
    b.goto(page);
    assert_eq!(b.text(), "on");
    b.without_script();
    b.goto(page);
    assert_eq!(b.text(), "off", "the page's script did not run");
    drop(b);
    let b = browser();
    b.goto(page);
    assert_eq!(b.text(), "on", "the next test has script again");
}

#[test]
fn fields_are_found_by_their_labels_and_read_as_shown() {
    let app = crate::support::spawn_app(crate::support::Backend::Sqlite);
    let b = browser();
    b.goto(&app.url("/consult"));
    b.type_into("件名", "はじめ");
    b.type_into("件名", "まして");
    assert_eq!(b.value_of("件名"), "はじめまして");
    b.fill("件名", "相談");
    assert_eq!(b.value_of("件名"), "相談", "fill replaces what was there");
    b.select("ご本人の年代", "30代");
    assert_eq!(b.value_of("ご本人の年代"), "30代");
    assert!(!b.is_checked("ご家族"));
    b.choose("ご家族");
    assert!(b.is_checked("ご家族"));
    let hidden = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        b.type_into("この欄は空のまま", "x")
    }));
    assert!(hidden.is_err(), "a label nobody sees is not found");
}

#[test]
fn axe_core_reports_serious_problems_readably() {
    let b = browser();
    b.goto(
        "data:text/html;charset=utf-8,<html lang=ja><title>t</title><main>\
         <input type=text name=x><p style='color:%23aaa;background:%23fff'>薄い文字</p></main>",
    );
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        b.assert_accessible("a page with an unlabelled field")
    }));
    let message = failed
        .err()
        .and_then(|e| e.downcast::<String>().ok())
        .expect("axe-core finds the unlabelled field");
    assert!(message.contains("[critical] label"), "{message}");
    assert!(message.contains("color-contrast"), "{message}");
    assert!(message.contains("at input"), "{message}");
}
