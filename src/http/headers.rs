//! Protective headers on every answer, set in one place (issue 10, point 20): no inline script
//! or style, no framing by another site, no type sniffing, no referrer leaving our site, and
//! nothing kept in any cache unless its handler says otherwise (only `/static/` does): a
//! page may show what a person wrote, an API answer a consultation.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderMap, HeaderName, HeaderValue, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};

/// An attachment as a download of opaque bytes, whatever its sender claimed it was: a browser
/// that believed `text/html` or `image/svg+xml` could run a stranger's script in the desk.
/// The API and the console serve attachments through this one answer.
pub fn attachment_download(file: crate::db::queue::AttachmentFile) -> actix_web::HttpResponse {
    use actix_web::http::header::{
        Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
    };
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: file.filename.into_bytes(),
        })],
    };
    actix_web::HttpResponse::Ok()
        .content_type(actix_web::mime::APPLICATION_OCTET_STREAM)
        .insert_header(disposition)
        .body(file.content)
}

/// Script, style and images from us alone; forms post to us alone.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `same-origin`, not `no-referrer`: with `no-referrer` a browser sends `Origin: null` on our
/// own form posts, and the form's origin check could no longer tell them from another site's.
const HEADERS: [(HeaderName, &str); 5] = [
    (CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE),
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (X_FRAME_OPTIONS, "DENY"),
    (REFERRER_POLICY, "same-origin"),
    (CACHE_CONTROL, "no-store"),
];

fn protect(headers: &mut HeaderMap) {
    for (name, value) in HEADERS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

/// The middleware (`wrap_fn`, outermost). Handlers and extractors turn their errors into
/// answers inside the services they wrap, so every answer passes here.
pub fn protective<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<B>, Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let fut = srv.call(req);
    async move {
        let mut res = fut.await?;
        protect(res.headers_mut());
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handler_may_keep_its_own_caching_but_not_drop_the_rest() {
        let mut own = HeaderMap::new();
        own.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        protect(&mut own);
        assert_eq!(own.get(CACHE_CONTROL).unwrap(), "public, max-age=60");
        assert_eq!(own.get(X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
        let mut plain = HeaderMap::new();
        protect(&mut plain);
        assert_eq!(plain.get(CACHE_CONTROL).unwrap(), "no-store");
        let csp = plain
            .get(CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
    }
}
