//! What every answer carries and what a visitor who is lost gets: security headers on
//! every response, the PayPage's stylesheet, a short page naming the gateway's parts for
//! unknown paths.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Pages run no inline script or style, take their stylesheet and images from the gateway
/// itself, post their forms only to it, and are never framed (no clickjacking of a
/// payment form).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Headers on every answer. The PayPage's URL holds its ticket, so no page ever sends it
/// on as a referrer.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let is_document = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html") || ct.starts_with("image/svg+xml"));
    if is_document {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// `Strict-Transport-Security` on every answer of a gateway reached over https.
pub async fn strict_transport(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    response
}

/// `GET /assets/paypage.css`.
pub async fn stylesheet() -> Response {
    css(include_str!("../../templates/paypage/paypage.css"))
}

/// `GET /assets/invoice.css`: the invoice proof's, printable at 5.7 cm.
pub async fn invoice_stylesheet() -> Response {
    css(include_str!("../../templates/paypage/invoice.css"))
}

fn css(text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        text,
    )
        .into_response()
}

/// An unknown path: a short page naming the API, the PayPage and (in the sandbox) the
/// sandbox helpers.
pub fn not_found_page(sandbox: bool) -> Response {
    let sandbox_line = if sandbox {
        "<li>Sandbox helpers: <code>GET /sandbox/clock</code>, <code>POST /sandbox/clock/advance</code>, \
         <code>GET /sandbox/notifications</code>, <code>POST /sandbox/orders/&lt;uid&gt;/pay</code>, \
         <code>POST /sandbox/merchants</code></li>"
    } else {
        ""
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found · MYPAY LINK</title></head>\
         <body><h1>Not found</h1><p>This is a MYPAY LINK gateway. Its parts:</p><ul>\
         <li>Merchant API: <code>POST /api/init</code> (dealers <code>/api/agent</code>, client mode \
         <code>/api/open</code>) with a form of <code>store_uid</code>, <code>service</code>, <code>encry_data</code></li>\
         <li>PayPage: the <code>url</code> that <code>api/orders</code> answers</li>{sandbox_line}</ul></body></html>"
    );
    (StatusCode::NOT_FOUND, Html(body)).into_response()
}
