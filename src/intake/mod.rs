//! Everything that becomes a consultation: the web form and public API now; mail next.

pub mod web;
