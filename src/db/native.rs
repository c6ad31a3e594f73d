//! Statements run on the backend's own connection rather than through the connection enum.
//! The enum builds a statement's SQL text anew at every run, even when the statement is
//! prepared and cached; the backend's own connection finds a cached statement by its type and
//! only collects the binds. On the intake's path that was about a quarter of the instructions
//! per mail, so the statements it runs for every mail go this way.

diesel::define_sql_function! {
    /// SQLite's rowid of the connection's last successful insert.
    fn last_insert_rowid() -> diesel::sql_types::BigInt;
}

/// `native!(conn, |c| query.get_result(c))`: the body is compiled once for each backend, with
/// `c` the `SqliteConnection` or the `PgConnection` inside `conn`.
macro_rules! native {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Postgres($c) => $body,
        }
    };
}

/// `insert_id!(conn, insert, table::id)`: inserts one row and gives its id. PostgreSQL says it
/// with `RETURNING`; SQLite is asked for its last rowid instead, since for `RETURNING` it
/// makes, fills and drops a temporary table at every insert.
macro_rules! insert_id {
    ($conn:expr, $insert:expr, $id:expr) => {{
        let insert = $insert;
        match $conn {
            $crate::db::DbConn::Sqlite(c) => diesel::RunQueryDsl::execute(insert, &mut *c)
                .and_then(|_| {
                    diesel::RunQueryDsl::get_result(
                        diesel::select($crate::db::native::last_insert_rowid()),
                        c,
                    )
                }),
            $crate::db::DbConn::Postgres(c) => {
                diesel::RunQueryDsl::get_result(insert.returning($id), c)
            }
        }
    }};
}

/// As [`insert_id`], for an insert that may write nothing (`ON CONFLICT DO NOTHING`): `None`
/// then.
macro_rules! insert_id_if_new {
    ($conn:expr, $insert:expr, $id:expr) => {{
        let insert = $insert;
        match $conn {
            $crate::db::DbConn::Sqlite(c) => match diesel::RunQueryDsl::execute(insert, &mut *c) {
                Ok(0) => Ok(None),
                Ok(_) => diesel::RunQueryDsl::get_result(
                    diesel::select($crate::db::native::last_insert_rowid()),
                    c,
                )
                .map(Some),
                Err(e) => Err(e),
            },
            $crate::db::DbConn::Postgres(c) => diesel::OptionalExtension::optional(
                diesel::RunQueryDsl::get_result(insert.returning($id), c),
            ),
        }
    }};
}

pub(crate) use {insert_id, insert_id_if_new, native};
