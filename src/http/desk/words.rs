//! The console's words for the typed vocabulary: what a counsellor reads, never the codes.

use chrono::{DateTime, Utc};

use crate::domain::clock::SlaState;
use crate::domain::jpdate;
use crate::domain::vocabulary::{Channel, DeliveryStatus, Status};
use crate::state::AppState;

pub fn status(s: Status) -> &'static str {
    match s {
        Status::New => "未対応",
        Status::Open => "相談者から返信あり",
        Status::Waiting => "相談者の返事待ち",
        Status::Closed => "終了",
    }
}

/// The contract's words (CONTRACT §7), said in full so colour is never the only sign.
pub fn sla(s: SlaState) -> &'static str {
    match s {
        SlaState::Overdue => "期限超過",
        SlaState::DueSoon => "期限間近",
        SlaState::OnTrack => "期限内",
        SlaState::None => "返信済み・期限なし",
    }
}

pub fn channel(c: Channel) -> &'static str {
    match c {
        Channel::WebForm => "相談フォーム",
        Channel::Email => "メール",
    }
}

pub fn delivery(d: DeliveryStatus) -> &'static str {
    match d {
        DeliveryStatus::Queued => "送信待ち",
        DeliveryStatus::Sent => "送信済み",
        DeliveryStatus::Failed => "送信できませんでした",
        DeliveryStatus::AwaitingReview => "承認待ち（まだ送っていません）",
    }
}

pub fn relationship(code: &str) -> &str {
    match code {
        "self" => "ご本人",
        "family" => "ご家族",
        "other" => "その他（支援者・知人など）",
        other => other,
    }
}

/// The statuses a filter or the status form offers, in the order of a day's work.
pub const STATUSES: [Status; 4] = [Status::New, Status::Open, Status::Waiting, Status::Closed];

/// `2027年1月15日（金）15時00分`, in the centre's time zone.
pub fn when(state: &AppState, t: DateTime<Utc>) -> String {
    jpdate::datetime_ja(&t.with_timezone(&state.rules.tz))
}

/// The urgent reasons stored with a ticket (`suicidal_ideation,self_harm`), as staff read them.
pub fn urgent_reasons(codes: Option<&str>) -> Vec<&'static str> {
    codes
        .unwrap_or("")
        .split(',')
        .filter_map(|c| c.trim().parse::<crate::domain::triage::Category>().ok())
        .map(crate::domain::triage::Category::label_ja)
        .collect()
}
