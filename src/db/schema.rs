// The one diesel schema for both backends; the migrations in migrations/sqlite and
// migrations/postgres must keep to it.

diesel::table! {
    staff (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamp,
        deactivated_at -> Nullable<Timestamp>,
        review_replies -> Bool,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        staff_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        client_addr -> Nullable<Text>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        account -> Text,
        client_addr -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    consulters (id) {
        id -> BigInt,
        email -> Text,
        name -> Nullable<Text>,
        created_at -> Timestamp,
        erased_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tickets (id) {
        id -> BigInt,
        reference -> Text,
        subject -> Text,
        status -> Text,
        channel -> Text,
        urgent -> Bool,
        urgent_reasons -> Nullable<Text>,
        consulter_id -> BigInt,
        assignee_id -> Nullable<BigInt>,
        relationship -> Nullable<Text>,
        age_group -> Nullable<Text>,
        area -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        clock_started_at -> Nullable<Timestamp>,
        reply_due_at -> Nullable<Timestamp>,
        queue_due_at -> Timestamp,
        consulter_name -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        legal_hold -> Bool,
        erased_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        kind -> Text,
        author_id -> Nullable<BigInt>,
        subject -> Nullable<Text>,
        body_text -> Text,
        rfc_message_id -> Nullable<Text>,
        in_reply_to -> Nullable<Text>,
        references_header -> Nullable<Text>,
        from_address -> Nullable<Text>,
        automatic -> Bool,
        raw_mime -> Nullable<Binary>,
        system_note -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        message_id -> BigInt,
        filename -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        content -> Binary,
        created_at -> Timestamp,
    }
}

diesel::table! {
    reply_clocks (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        started_at -> Timestamp,
        due_at -> Timestamp,
        started_by_message_id -> Nullable<BigInt>,
        stopped_at -> Nullable<Timestamp>,
        stopped_by_staff_id -> Nullable<BigInt>,
        stopped_by_message_id -> Nullable<BigInt>,
        due_soon_alerted_at -> Nullable<Timestamp>,
        overdue_alerted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbound_mail (id) {
        id -> BigInt,
        message_id -> Nullable<BigInt>,
        ticket_id -> Nullable<BigInt>,
        kind -> Text,
        to_address -> Text,
        rfc_message_id -> Text,
        raw -> Binary,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        locked_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> Timestamp,
        staff_id -> Nullable<BigInt>,
        action -> Text,
        ticket_id -> Nullable<BigInt>,
        target -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    quarantine (id) {
        id -> BigInt,
        received_at -> Timestamp,
        source -> Text,
        reason -> Text,
        raw -> Binary,
        retried_at -> Nullable<Timestamp>,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    imap_state (mailbox) {
        mailbox -> Text,
        uidvalidity -> BigInt,
        last_uid -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    alerts_sent (key) {
        key -> Text,
        sent_at -> Timestamp,
    }
}

diesel::table! {
    triage_flags (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        message_id -> BigInt,
        categories -> Text,
        text_hash -> Text,
        state -> Text,
        decided_by -> Nullable<BigInt>,
        decision_reason -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    drafts (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        staff_id -> BigInt,
        body_text -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    text_modules (id) {
        id -> BigInt,
        title -> Text,
        body -> Text,
        created_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    reviews (message_id) {
        message_id -> BigInt,
        ticket_id -> BigInt,
        author_id -> BigInt,
        status -> Text,
        reason -> Text,
        close_ticket -> Bool,
        submitted_at -> Timestamp,
        reminded_at -> Nullable<Timestamp>,
        comment -> Nullable<Text>,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        edited -> Bool,
    }
}

diesel::table! {
    my_access (ticket_id) {
        ticket_id -> BigInt,
        passphrase_hash -> Nullable<Text>,
        notice_only -> Bool,
        created_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        ended_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    ticket_case_values (ticket_id, field, code) {
        ticket_id -> BigInt,
        field -> Text,
        code -> Text,
    }
}

diesel::table! {
    my_sessions (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    my_reads (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        session_id -> BigInt,
        last_message_id -> Nullable<BigInt>,
        at -> Timestamp,
    }
}

diesel::table! {
    my_sign_in_failures (id) {
        id -> BigInt,
        reference -> Text,
        client_addr -> Text,
        at -> Timestamp,
    }
}

diesel::joinable!(sessions -> staff (staff_id));
diesel::joinable!(tickets -> consulters (consulter_id));
diesel::joinable!(tickets -> staff (assignee_id));
diesel::joinable!(messages -> tickets (ticket_id));
diesel::joinable!(messages -> staff (author_id));
diesel::joinable!(attachments -> messages (message_id));
diesel::joinable!(reply_clocks -> tickets (ticket_id));
diesel::joinable!(reply_clocks -> messages (started_by_message_id));
diesel::joinable!(reply_clocks -> staff (stopped_by_staff_id));
diesel::joinable!(outbound_mail -> messages (message_id));
diesel::joinable!(outbound_mail -> tickets (ticket_id));
diesel::joinable!(audit_events -> staff (staff_id));
diesel::joinable!(audit_events -> tickets (ticket_id));
diesel::joinable!(triage_flags -> tickets (ticket_id));
diesel::joinable!(reviews -> messages (message_id));
diesel::joinable!(reviews -> tickets (ticket_id));
diesel::joinable!(ticket_case_values -> tickets (ticket_id));
diesel::joinable!(my_access -> tickets (ticket_id));
diesel::joinable!(my_sessions -> tickets (ticket_id));
diesel::joinable!(my_reads -> my_sessions (session_id));

diesel::allow_tables_to_appear_in_same_query!(
    staff,
    sessions,
    login_failures,
    consulters,
    tickets,
    messages,
    attachments,
    reply_clocks,
    outbound_mail,
    audit_events,
    quarantine,
    imap_state,
    alerts_sent,
    triage_flags,
    drafts,
    text_modules,
    reviews,
    ticket_case_values,
    my_access,
    my_sessions,
    my_reads,
    my_sign_in_failures,
);
