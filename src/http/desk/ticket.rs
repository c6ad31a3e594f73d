//! `GET /desk/tickets/{id}`: the whole thread with the consulter's details and the forms a
//! counsellor works it with; every showing is the desk's audited read. The attachment download.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{DeskUser, base, failed, render, words};
use crate::db::from_db;
use crate::desk;
use crate::domain::clock;
use crate::domain::vocabulary::{
    AttachmentId, DeliveryStatus, MessageId, MessageKind, ReviewStatus, StaffId, TicketId,
};
use crate::http::blocking;
use crate::state::AppState;

/// What a form sent back shows again: the typed text, and why it was not taken.
#[derive(Default)]
pub struct Again {
    pub reply: Option<String>,
    pub reply_error: Option<&'static str>,
    pub note: Option<String>,
    pub note_error: Option<&'static str>,
    pub reason_error: Option<&'static str>,
    pub module_error: Option<&'static str>,
    /// The consulter's message that arrived while the reply was written.
    pub newer: Option<MessageId>,
    pub notice: Option<&'static str>,
}

#[derive(Serialize)]
struct Delivery {
    word: &'static str,
    failed: bool,
    attempts: i32,
    last_error: Option<String>,
}

#[derive(Serialize)]
struct Attachment {
    filename: String,
    url: String,
    size: String,
}

/// Where a reply held for review stands, as its author and the supervisors read it.
#[derive(Serialize)]
struct ReviewLine {
    returned: bool,
    comment: Option<String>,
    by: Option<String>,
    /// The supervisors' page to decide on it.
    link: Option<String>,
}

#[derive(Serialize)]
pub(super) struct Message {
    id: i64,
    kind: &'static str,
    who: String,
    when: String,
    body: String,
    system_note: Option<String>,
    delivery: Option<Delivery>,
    attachments: Vec<Attachment>,
    newer: bool,
    /// Sent by the system itself (the acknowledgement): folded away, it is the same each time.
    automatic: bool,
    review: Option<ReviewLine>,
}

/// The thread as the console shows it, oldest first; `newer`: the consulter's message that
/// arrived while a reply was written. A reply held for review shows as one, not as a note,
/// with its state (and a returned one's comment for its author and the supervisors).
pub(super) fn thread(
    state: &AppState,
    user: &DeskUser,
    id: TicketId,
    entries: Vec<desk::tickets::ThreadEntry>,
    newer: Option<MessageId>,
) -> Vec<Message> {
    let me = user.session.actor.staff_id;
    let supervisor = user.session.actor.is_supervisor();
    entries
        .into_iter()
        .map(|e| {
            let m = e.message;
            let held = e
                .review
                .as_ref()
                .filter(|r| r.status != ReviewStatus::Approved);
            let author = m.author_name.as_deref().unwrap_or("相談員");
            Message {
                who: match (m.kind, m.automatic, held.map(|r| r.status)) {
                    (_, _, Some(ReviewStatus::Returned)) => {
                        format!("{author} の返信（差し戻し・まだ送っていません）")
                    }
                    (_, _, Some(_)) => format!("{author} の返信（承認待ち）"),
                    (MessageKind::Inbound, _, _) => "相談者から".to_string(),
                    (MessageKind::Outbound, true, _) => {
                        "自動送信（受付のお知らせなど）".to_string()
                    }
                    (MessageKind::Outbound, false, _) => format!("{author} の返信"),
                    (MessageKind::Note, _, _) => format!("内部メモ（{author}）"),
                },
                kind: if held.is_some() {
                    "held"
                } else {
                    m.kind.as_str()
                },
                when: words::when(state, from_db(m.created_at)),
                delivery: if let Some(r) = held {
                    Some(Delivery {
                        word: if r.status == ReviewStatus::Returned {
                            "差し戻し（まだ送っていません）"
                        } else {
                            words::delivery(DeliveryStatus::AwaitingReview)
                        },
                        failed: false,
                        attempts: 0,
                        last_error: None,
                    })
                } else {
                    e.delivery.map(|d| Delivery {
                        word: words::delivery(d.status),
                        failed: d.status == DeliveryStatus::Failed,
                        attempts: d.attempts,
                        last_error: d.last_error,
                    })
                },
                review: held
                    .filter(|r| r.author_id == me || supervisor)
                    .map(|r| ReviewLine {
                        returned: r.status == ReviewStatus::Returned,
                        comment: r
                            .comment
                            .clone()
                            .filter(|_| r.status == ReviewStatus::Returned),
                        by: r.decided_by_name.clone(),
                        link: (supervisor && r.status == ReviewStatus::AwaitingReview)
                            .then(|| format!("/desk/reviews/{}", r.message_id)),
                    }),
                attachments: e
                    .attachments
                    .into_iter()
                    .map(|a| Attachment {
                        url: format!("/desk/tickets/{id}/attachments/{}", a.id),
                        filename: a.filename,
                        size: size_words(a.size_bytes),
                    })
                    .collect(),
                newer: newer == Some(m.id),
                automatic: m.automatic,
                id: m.id.0,
                body: m.body_text,
                system_note: m.system_note,
            }
        })
        .collect()
}

fn size_words(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} バイト")
    } else if bytes < 1024 * 1024 {
        format!("{} KB", (bytes + 1023) / 1024)
    } else {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// What the flash in `?done=` says once a form has done its work.
fn done_words(done: &str) -> Option<&'static str> {
    Some(match done {
        "reply" => "返信を送信しました（送信待ちに入りました）。",
        "held" => {
            "返信は承認待ちになりました。スーパーバイザーが読んで承認すると、相談者に送られます。"
        }
        "close" => "返信を送信し、相談を終了にしました。",
        "note" => "メモを保存しました。",
        "assign" => "担当を変更しました。",
        "status" => "状態を変更しました。",
        "triage" => "緊急の判断を記録しました。",
        "draft" => "下書きを保存しました。",
        "insert" => "定型文を返信に入れました。必要に応じて書き直してください。",
        "case" => "統計の記録を保存しました。",
        "my_access" => "ご本人用ページの利用を終了しました。返信はメールで届きます。",
        _ => return None,
    })
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "The ticket page: thread, consulter, and the forms", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, which returns here"),
        (status = 404, description = "No such ticket", content_type = "text/html"),
    )
)]
#[get("/desk/tickets/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<TicketId>,
    shown: web::Query<Shown>,
) -> HttpResponse {
    let again = Again {
        notice: shown.done.as_deref().and_then(done_words),
        ..Again::default()
    };
    page(&state, &user, id.into_inner(), again, StatusCode::OK).await
}

/// The ticket page, read through the desk (an audited read), with what a form left behind.
pub async fn page(
    state: &web::Data<AppState>,
    user: &DeskUser,
    id: TicketId,
    again: Again,
    status: StatusCode,
) -> HttpResponse {
    let actor = user.session.actor.clone();
    let read = blocking(state, move |st, conn| {
        let view = desk::tickets::view(st, conn, &actor, id)?;
        let colleagues = desk::staff::colleagues(conn)?;
        let draft = desk::drafts::mine(conn, &actor, id)?;
        let modules = desk::text_modules::list(conn)?;
        let case = desk::case::of(conn, id)?;
        Ok::<_, desk::DeskError>((view, colleagues, draft, modules, case))
    })
    .await;
    let (view, colleagues, draft, modules, case) = match read {
        Ok(v) => v,
        Err(e) => return failed(state, user, &e, "/desk"),
    };
    let last_seen = view.messages.iter().map(|m| m.id.0).max().unwrap_or(0);
    // The author's own reply returned to them is what they go on writing.
    let me = user.session.actor.staff_id;
    let returned = view
        .reviews
        .iter()
        .filter(|r| r.author_id == me && r.status == ReviewStatus::Returned)
        .map(|r| r.message_id)
        .max();
    let entries = desk::tickets::TicketView::entries(
        view.messages,
        view.deliveries,
        view.attachments,
        view.reviews,
    );
    let returned_body = returned.and_then(|r| {
        entries
            .iter()
            .find(|e| e.message.id == r)
            .map(|e| e.message.body_text.clone())
    });
    let messages = thread(state, user, id, entries, again.newer);
    let s = view.summary;
    let due = s.reply_due_at.map(from_db);
    let sla = clock::sla_state(&state.rules, due, state.time.now());
    // Counsellors may take a ticket or let it go; supervisors may give it to anyone.
    let assignable: Vec<(String, String)> = colleagues
        .into_iter()
        .filter(|(sid, _)| user.session.actor.is_supervisor() || *sid == me)
        .map(|(sid, name): (StaffId, String)| (sid.0.to_string(), name))
        .collect();
    let c = view.consulter;
    let my_page = view.my_page.map(|p| {
        context! {
            active => p.active,
            notice_only => p.notice_only,
            ended => p.ended_at.map(|t| words::when(state, from_db(t))),
            reads => p.reads,
            last_read => p.last_read_at.map(|t| words::when(state, from_db(t))),
            latest_reply_read => p.latest_reply_read,
        }
    });
    // Each module as it will read in this reply: the consulter's name and the centre's details in.
    let modules: Vec<(i64, String, String)> = modules
        .into_iter()
        .map(|m| {
            let text = desk::text_modules::fill_for(state, c.name.as_deref(), &m.body);
            (m.id, m.title, text)
        })
        .collect();
    render(
        state,
        "desk/ticket.html",
        context! {
            ticket => context! {
                id => id.0,
                reference => s.reference,
                subject => s.subject,
                status => words::status(s.status),
                status_code => s.status.as_str(),
                sla => words::sla(sla),
                urgent => s.urgent,
                reasons => words::urgent_reasons(s.urgent_reasons.as_deref()),
                assignee_id => s.assignee_id.map(|a| a.0.to_string()),
                assignee => s.assignee_name,
                reply_by => due.map(|d| words::when(state, d)),
                channel => words::channel(s.channel),
                created => words::when(state, from_db(s.created_at)),
                erased => view.retention.erased_at.map(|t| words::when(state, from_db(t))),
                legal_hold => view.retention.legal_hold,
            },
            consulter => context! {
                name => c.name,
                email => c.email,
                relationship => c.relationship.as_deref().map(words::relationship),
                age_group => c.age_group,
                area => c.area,
            },
            messages,
            my_page,
            last_seen,
            draft_saved => draft.as_ref().map(|d| words::when(state, d.saved_at)),
            // What a form sent back wins over the kept draft; otherwise the draft is shown.
            returned => returned.is_some() && again.reply.is_none() && draft.is_none(),
            reply => again.reply.or(draft.map(|d| d.body)).or(returned_body),
            reply_error => again.reply_error,
            note => again.note,
            note_error => again.note_error,
            reason_error => again.reason_error,
            module_error => again.module_error,
            modules,
            collision => again.newer.map(|m| m.0),
            notice => again.notice,
            assignable,
            case_fields => super::case::form_fields(state, &case),
            statuses => words::STATUSES.iter().map(|st| (st.as_str(), words::status(*st))).collect::<Vec<_>>(),
            ..base(state, Some(user))
        },
        status,
    )
}

#[utoipa::path(
    tag = "desk",
    params(
        ("id" = i64, Path, description = "Ticket id"),
        ("attachment_id" = i64, Path, description = "Attachment id"),
    ),
    responses(
        (status = 200, description = "The file as `application/octet-stream`, always a download", content_type = "application/octet-stream"),
        (status = 303, description = "Not signed in: to the sign-in page"),
        (status = 404, description = "No such attachment on this ticket", content_type = "text/html"),
    )
)]
#[get("/desk/tickets/{id}/attachments/{attachment_id}")]
pub async fn attachment(
    state: web::Data<AppState>,
    user: DeskUser,
    path: web::Path<(TicketId, AttachmentId)>,
) -> HttpResponse {
    let (id, attachment_id) = path.into_inner();
    let actor = user.session.actor.clone();
    let file = match blocking(&state, move |st, conn| {
        desk::tickets::attachment(st, conn, &actor, id, attachment_id)
    })
    .await
    {
        Ok(f) => f,
        Err(e) => return failed(&state, &user, &e, &format!("/desk/tickets/{id}")),
    };
    crate::http::headers::attachment_download(file)
}
