//! A full disk (issue 17, point 4b): refused with 75 and 503, nothing half-written, and the
//! same processes go on when space returns.

use std::path::PathBuf;
use std::time::Duration;

use super::{Serve, SmallDisk, mail, refused, run, stored};

/// Fills the file system of `dir` to the last byte with `dir/filler`.
fn fill(dir: &std::path::Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    for chunk in [vec![0u8; 64 * 1024], vec![0u8; 4096], vec![0u8; 1]] {
        while file.write_all(&chunk).is_ok() {}
    }
    let _ = file.sync_all();
    path
}

fn ids(ns: &[usize]) -> Vec<String> {
    let mut v: Vec<String> = ns.iter().map(|n| format!("fault-{n}@example.jp")).collect();
    v.sort();
    v
}

#[test]
fn a_full_disk_refuses_with_75_and_503_keeps_what_was_taken_and_recovers() {
    let disk = SmallDisk::mount("6m");
    let url = disk.url("madoguchi.db");
    let db_file = disk.dir.join("madoguchi.db");
    let mail_dir = disk.dir.join("sent-mail");
    let serve = Serve::start(&url, &mail_dir, &[]);
    assert_eq!(serve.consult(0), 201);
    let out = run(&url, &["ingest"], &mail(0));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut taken = vec![0];
    let mut consultations = 1;

    // The consultation form as a person has it open: served before the disk fills.
    let page = ureq::get(&serve.url("/consult"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let token = crate::support::hidden_value(&page, "form_token").expect("a form token");
    let filler = fill(&disk.dir);
    // A person takes a few seconds to write (the form refuses quicker posts).
    std::thread::sleep(Duration::from_secs(3));
    // Pages SQLite holds already may take a few more; the first refusal must come soon.
    let mut refused_mail = None;
    for n in 1..40 {
        let out = run(&url, &["ingest"], &mail(n));
        match out.status.code() {
            Some(0) => taken.push(n),
            Some(75) => {
                refused(&out, 75, "disk is full");
                refused_mail = Some(n);
                break;
            }
            other => panic!(
                "ingest on a full disk: {other:?} {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    let refused_mail = refused_mail.expect("ingest refuses on a full disk");
    let mut saw_503 = false;
    for i in 1..40 {
        match serve.consult(i) {
            201 => consultations += 1,
            503 => {
                saw_503 = true;
                break;
            }
            other => panic!("the API on a full disk answered {other}"),
        }
    }
    assert!(saw_503, "the API answers 503 while the disk is full");
    let mut form = ureq::post(&serve.url("/consult"))
        .config()
        .http_status_as_error(false)
        .build()
        .send_form([
            ("email", "form@example.jp"),
            ("relationship", "self"),
            ("subject", "件名"),
            ("body", "夜になると不安です"),
            ("consent", "true"),
            ("form_token", token.as_str()),
            ("homepage", ""),
        ])
        .unwrap();
    assert_eq!(
        form.status().as_u16(),
        503,
        "the form answers 503 while the disk is full"
    );
    let page = form.body_mut().read_to_string().unwrap();
    assert!(
        page.contains("夜になると不安です"),
        "the consulter's text is kept on the page"
    );
    let (check, mail_held, api_held) = stored(&db_file);
    assert_eq!(check, "ok");
    assert_eq!(mail_held, ids(&taken), "exactly the mail acknowledged");
    assert_eq!(
        api_held, consultations,
        "exactly the consultations answered 201"
    );

    // Space returns: the same mail is taken and the same server serves, without a restart.
    std::fs::remove_file(filler).unwrap();
    let out = run(&url, &["ingest"], &mail(refused_mail));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    taken.push(refused_mail);
    assert_eq!(serve.consult(100), 201);
    consultations += 1;
    let (check, mail_held, api_held) = stored(&db_file);
    assert_eq!(check, "ok");
    assert_eq!(mail_held, ids(&taken));
    assert_eq!(api_held, consultations);
    // Every acknowledgement is written in the end, each whole: none half-written, no leftovers.
    let written = crate::support::eventually(Duration::from_secs(30), || {
        let files: Vec<_> = std::fs::read_dir(&mail_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        (files.len() >= consultations).then_some(files)
    })
    .expect("the acknowledgements are written once space returns");
    for file in written {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.ends_with(".eml") && !name.starts_with('.'), "{name}");
        let raw = std::fs::read(&file).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert!(parsed.body_text(0).is_some(), "{name} is whole");
    }
}
