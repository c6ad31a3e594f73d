//! The console's part of the city's figures (issue 14): a supervisor records case fields on
//! the ticket page by their labels and reads them on the 統計 page; counsellors may record
//! but not read the report.

use serde_json::json;

use crate::both_backends;
use crate::desk::{SUPERVISOR, app_with, look_at, sign_in, ticket_with};
use crate::support::Backend;
use crate::support::browser::{Browser, browser};

both_backends!(a_supervisor_records_case_fields_and_reads_them_on_the_statistics_page);

/// The value shown in a table of the 統計 page, by its caption and row.
fn shown(b: &Browser, caption: &str, row: &str) -> String {
    let v = b.js_value(&format!(
        "const t = [...document.querySelectorAll('table.stats')].find(t => t.caption.innerText.trim() === '{caption}');\
         if (!t) return null;\
         const r = [...t.tBodies[0].rows].find(r => r.cells[0].innerText.trim() === '{row}');\
         return r ? r.cells[1].innerText.trim() : null;"
    ));
    v.as_str()
        .unwrap_or_else(|| panic!("no 「{row}」 in 「{caption}」"))
        .to_string()
}

fn a_supervisor_records_case_fields_and_reads_them_on_the_statistics_page(backend: Backend) {
    std::fs::create_dir_all(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/stats"),
    )
    .unwrap();
    let app = app_with(backend, None);
    let t: chrono::DateTime<chrono::Utc> =
        chrono::DateTime::parse_from_rfc3339("2026-12-02T10:00:00+09:00")
            .unwrap()
            .into();
    app.time.set(t);
    app.add_staff(SUPERVISOR, "supervisor");
    app.add_staff("c@center.example", "counsellor");
    let (id, _) = ticket_with(
        &app,
        "haha@example.jp",
        "息子のこと",
        "部屋から出られません。",
    );
    ticket_with(&app, "other@example.jp", "相談", "話を聞いてほしいです。");

    let mut b = browser();
    b.without_script();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    sign_in(&b, SUPERVISOR);
    b.select("相談した人", "母");
    b.select("ご本人の年齢", "30代");
    b.select("お住まいの区", "北区");
    b.select("ひきこもりの期間", "5〜10年");
    b.choose("家族関係");
    b.choose("本人への関わり方");
    b.choose("精神保健福祉センター");
    b.press("記録を保存");
    assert_eq!(b.path(), format!("/desk/tickets/{id}?done=case"));
    assert!(
        b.text().contains("統計の記録を保存しました"),
        "{}",
        b.text()
    );
    assert!(b.is_checked("家族関係"), "shown again as recorded");
    assert!(!b.is_checked("暴力・緊急"));
    assert_eq!(b.value_of("お住まいの区"), "kita");
    for width in [1280, 390] {
        b.set_width(width);
        b.screenshot("stats/desk-ticket-case-noscript");
    }
    drop(b);
    // axe-core runs as a script: the same pages again with script on.
    let mut b = browser();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    sign_in(&b, SUPERVISOR);
    assert!(b.is_checked("精神保健福祉センター"));
    look_at(&mut b, "stats/desk-ticket-case");

    let token = {
        let r = app.login(SUPERVISOR, crate::support::STAFF_PASSWORD);
        r.json()["token"].as_str().unwrap().to_string()
    };
    let detail = app.call("GET", &format!("/api/v1/tickets/{id}"), Some(&token), None);
    let case = &detail.json()["case"];
    assert_eq!(case["writer"], "mother");
    assert_eq!(case["ward"], "kita");
    assert_eq!(case["purposes"], json!(["family", "how_to_relate"]));
    assert_eq!(case["prior_agencies"], json!(["mental_health_centre"]));
    assert_eq!(case["person_sex"], serde_json::Value::Null);

    b.goto(&app.url("/desk/statistics"));
    assert_eq!(b.value_of("年度"), "2026", "this fiscal year by default");
    let text = b.text();
    assert!(text.contains("統計（2026年度）"), "{text}");
    assert!(text.contains("2026年4月1日から2027年3月31日まで"), "{text}");
    assert!(
        text.contains("実人数\n2人") || text.contains("実人数 2人") || text.contains("実人数2人"),
        "{text}"
    );
    assert!(text.contains("数え方"), "the rules are on the page");
    assert_eq!(shown(&b, "相談した人（実人数）", "母"), "1");
    assert_eq!(shown(&b, "相談した人（実人数）", "未記入"), "1");
    assert_eq!(shown(&b, "お住まいの区（実人数）", "北区"), "1");
    assert_eq!(shown(&b, "相談の内容（実人数）", "家族関係"), "1");
    assert_eq!(shown(&b, "月別（延べ件数）", "2026年12月"), "2");
    assert_eq!(shown(&b, "相談経路（延べ件数）", "相談フォーム"), "2");
    look_at(&mut b, "stats/desk-statistics");

    b.select("公表用に小さい数を伏せる", "3未満を「<3」と表示");
    b.press("表示");
    assert_eq!(shown(&b, "相談した人（実人数）", "母"), "<3");
    assert_eq!(shown(&b, "月別（延べ件数）", "2026年12月"), "<3");
    assert_eq!(shown(&b, "月別（延べ件数）", "2026年11月"), "0");
    let links = b.js_value(
        "return [...document.querySelectorAll('.downloads a')].map(a => a.getAttribute('href'));",
    );
    assert_eq!(
        links,
        json!([
            "/desk/statistics/download?fiscal_year=2026&suppress_below=3&format=csv",
            "/desk/statistics/download?fiscal_year=2026&suppress_below=3&format=xlsx"
        ])
    );
    // The links download the API's report by the console's session.
    let got = b.js_value(
        "const x = new XMLHttpRequest(); x.open('GET', document.querySelector('.downloads a').href, false); x.send();\
         return [x.status, x.getResponseHeader('content-type'), x.responseText.split('\\r\\n').slice(0, 2)];",
    );
    assert_eq!(
        got,
        json!([
            200,
            "text/csv; charset=utf-8",
            ["年度,表,項目,コード,値", "2026年度,概要,実人数,people,2"]
        ])
    );
    // Back to 伏せない: the form sends the field empty, and the page shows the counts again.
    b.select("公表用に小さい数を伏せる", "伏せない");
    b.press("表示");
    assert_eq!(shown(&b, "相談した人（実人数）", "母"), "1");
    drop(b);

    // Counsellors record case fields but do not read the report, by the console's session.
    let mut b = browser();
    b.goto(&app.url("/desk/statistics"));
    sign_in(&b, "c@center.example");
    assert!(
        b.text().contains("スーパーバイザーだけ"),
        "counsellors are told it is not theirs: {}",
        b.text()
    );
    look_at(&mut b, "stats/desk-statistics-counsellor");
}
