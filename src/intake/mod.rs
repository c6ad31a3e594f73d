//! Everything that becomes a consultation: the web form, the public API, and mail (from an
//! MTA pipe through `madoguchi ingest`, or from IMAP), all stored the same way.

pub mod imap;
pub mod parse;
pub mod store;
pub mod web;
