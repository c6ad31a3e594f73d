//! The answer for a request no route took: 405 with `Allow` when the path exists with other
//! methods, 404 otherwise. The paths and their methods are read from the OpenAPI document,
//! which is collected from the same registrations the server serves.

use actix_web::dev::ResourceDef;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::error::json_error;

/// Every documented path with the methods it answers.
pub struct MethodTable(Vec<(ResourceDef, String)>);

impl MethodTable {
    pub fn of(doc: &utoipa::openapi::OpenApi) -> Self {
        let rows = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let value = serde_json::to_value(item).unwrap_or_default();
                let methods: Vec<String> = value
                    .as_object()
                    .map(|o| {
                        o.keys()
                            .filter(|k| METHODS.contains(&k.as_str()))
                            .map(|k| k.to_uppercase())
                            .collect()
                    })
                    .unwrap_or_default();
                (ResourceDef::new(path.as_str()), methods.join(", "))
            })
            .collect();
        Self(rows)
    }

    /// The `Allow` value for a path the table knows.
    pub fn allowed(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, allow)| allow.as_str())
    }
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub async fn unrouted(req: HttpRequest, table: Option<web::Data<MethodTable>>) -> HttpResponse {
    match table.as_ref().and_then(|t| t.allowed(req.path())) {
        Some(allow) => {
            let mut resp = json_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not answer that method",
            );
            if let Ok(value) = header::HeaderValue::from_str(allow) {
                resp.headers_mut().insert(header::ALLOW, value);
            }
            resp
        }
        None => super::not_found().await,
    }
}
