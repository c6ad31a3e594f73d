//! Files the pages load from us (the stylesheet): built in, served under `/static/` with a
//! version in the address, so they can be cached for a year and still change with a release.
//! The pages carry no inline style or script, so the CSP can forbid both.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static str,
}

const STYLESHEET: Asset = Asset {
    content_type: "text/css; charset=utf-8",
    body: include_str!("../../static/madoguchi.css"),
};

/// The staff console's own rules, loaded after the consulters' stylesheet.
const DESK_STYLESHEET: Asset = Asset {
    content_type: "text/css; charset=utf-8",
    body: include_str!("../../static/desk.css"),
};

/// The console's small script (drafts saved as one types); the pages work without it.
const DESK_SCRIPT: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    body: include_str!("../../static/desk.js"),
};

/// By the name in `/static/{name}`.
pub fn find(name: &str) -> Option<&'static Asset> {
    match name {
        "madoguchi.css" => Some(&STYLESHEET),
        "desk.css" => Some(&DESK_STYLESHEET),
        "desk.js" => Some(&DESK_SCRIPT),
        _ => None,
    }
}

/// `/static/NAME?v=HASH` for a built-in asset.
fn versioned(name: &str, asset: &Asset) -> String {
    let hash = Sha256::digest(asset.body.as_bytes());
    let short: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("/static/{name}?v={short}")
}

/// The console's stylesheet address, versioned by its content.
pub fn desk_stylesheet_url() -> &'static str {
    static URL: LazyLock<String> = LazyLock::new(|| versioned("desk.css", &DESK_STYLESHEET));
    &URL
}

/// The console's script address, versioned by its content.
pub fn desk_script_url() -> &'static str {
    static URL: LazyLock<String> = LazyLock::new(|| versioned("desk.js", &DESK_SCRIPT));
    &URL
}

/// The stylesheet's address with a hash of its content, for the pages' `<link>`.
pub fn stylesheet_url() -> &'static str {
    static URL: LazyLock<String> = LazyLock::new(|| versioned("madoguchi.css", &STYLESHEET));
    &URL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_is_found_under_its_versioned_address() {
        let url = stylesheet_url();
        let name = url
            .strip_prefix("/static/")
            .and_then(|rest| rest.split('?').next())
            .unwrap();
        assert_eq!(find(name).unwrap().content_type, "text/css; charset=utf-8");
        assert!(url.contains("?v=") && url.len() == "/static/madoguchi.css?v=".len() + 12);
        assert!(find("../Cargo.toml").is_none());
    }
}
