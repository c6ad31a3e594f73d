//! The desk's words in the OpenAPI document: each vocabulary is a string enum listing its
//! words, so a client sees every status (role, channel …) it may send or receive.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::domain::clock::SlaState;
use crate::domain::vocabulary::{Channel, DeliveryStatus, MessageKind, ReviewStatus, Role, Status};

macro_rules! word_schemas {
    ($($name:ty),* $(,)?) => {$(
        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(<$name>::ALL.iter().map(|w| w.as_str())))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    )*};
}

word_schemas!(
    Status,
    Role,
    Channel,
    MessageKind,
    DeliveryStatus,
    SlaState,
    ReviewStatus
);
