//! Pure rules of the consultation desk: no I/O, no clock reads, no database.

pub mod address;
pub mod automatic;
pub mod calendar;
pub mod case_fields;
pub mod clock;
pub mod consultation;
pub mod csv;
pub mod form_token;
pub mod inbound;
pub mod instant;
pub mod jpdate;
pub mod proxies;
pub mod redact;
pub mod reference;
pub mod review;
pub mod sla;
pub mod statistics;
pub mod stats;
pub mod text_module;
pub mod threading;
pub mod triage;
pub mod vocabulary;
pub mod workbook;
