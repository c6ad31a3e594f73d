//! How the vocabulary is stored: ids as BIGINT, words as the TEXT they always were. The
//! conversions are written for any backend, so they serve SQLite, PostgreSQL and the
//! connection enum over both.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{BigInt, Text};

use crate::domain::vocabulary::MySessionId;
use crate::domain::vocabulary::{
    AttachmentId, Channel, ClockId, ConsulterId, DeliveryStatus, HoldReason, MessageId,
    MessageKind, OutboxId, QuarantineId, ReviewStatus, Role, SessionId, StaffId, Status, TicketId,
};

macro_rules! stored_as_bigint {
    ($($id:ident),*) => {$(
        const _: () = {
            #[derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
            #[diesel(foreign_derive, sql_type = BigInt)]
            #[allow(dead_code)]
            struct Stored($id);
        };

        impl<DB: Backend> ToSql<BigInt, DB> for $id
        where
            i64: ToSql<BigInt, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }

        impl<DB: Backend> FromSql<BigInt, DB> for $id
        where
            i64: FromSql<BigInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                i64::from_sql(bytes).map(Self)
            }
        }
    )*};
}

stored_as_bigint!(
    TicketId,
    MessageId,
    StaffId,
    ConsulterId,
    SessionId,
    OutboxId,
    QuarantineId,
    AttachmentId,
    ClockId,
    MySessionId
);

macro_rules! stored_as_text {
    ($($word:ident),*) => {$(
        const _: () = {
            #[derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
            #[diesel(foreign_derive, sql_type = Text)]
            #[allow(dead_code)]
            struct Stored($word);
        };

        impl<DB: Backend> ToSql<Text, DB> for $word
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        /// A word the code does not know (the database was changed by hand) is an error,
        /// not a guess.
        impl<DB: Backend> FromSql<Text, DB> for $word
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                Ok(String::from_sql(bytes)?.parse()?)
            }
        }
    )*};
}

stored_as_text!(
    Status,
    Role,
    Channel,
    MessageKind,
    DeliveryStatus,
    ReviewStatus,
    HoldReason
);
