//! The admin API's OpenAPI 3.1 document, generated from the handlers' own descriptions
//! and served without credentials at `/admin/api/v1/openapi.json` (it holds no data).

use super::{audit, clock, dealers, merchants, notices, orders};
use crate::state::AppState;
use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mypay-gateway admin API",
        version = "1",
        description = "The back office of a mypay-gateway: merchants, keys, dealers, client codes, orders, notices, e-mails, the audit log and the sandbox's clock. Bearer tokens come from `mypay-gateway admin token LABEL --role operator|viewer`; viewers read, operators also act. JSON in and out, times RFC 3339."
    ),
    paths(
        merchants::list,
        merchants::create,
        merchants::show,
        merchants::change,
        merchants::notify_test,
        merchants::keys,
        merchants::rotate,
        merchants::extend,
        merchants::revoke,
        merchants::client_codes,
        merchants::issue_client_code,
        merchants::revoke_client_code,
        dealers::list,
        dealers::create,
        dealers::attach,
        dealers::detach,
        orders::search,
        orders::order,
        notices::notices,
        notices::resend_notice,
        notices::emails,
        notices::email,
        notices::resend_email,
        audit::audit,
        audit::verify,
        audit::export,
        clock::clock,
        clock::advance,
    ),
    modifiers(&Bearer),
    security(("bearer" = []))
)]
struct AdminApi;

/// Every operation takes a bearer token (or a dashboard session's cookie).
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as JSON, made once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        AdminApi::openapi()
            .to_json()
            .unwrap_or_else(|_| "{}".into())
    })
}

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin/api/v1/openapi.json", get(openapi))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_openapi_3_1_with_every_admin_path() {
        let doc: serde_json::Value = serde_json::from_str(super::document()).expect("JSON");
        assert!(
            doc["openapi"].as_str().expect("version").starts_with("3.1"),
            "{doc}"
        );
        let paths = doc["paths"].as_object().expect("paths");
        for path in [
            "/admin/api/v1/merchants",
            "/admin/api/v1/merchants/{store_uid}/keys/{id}/extend",
            "/admin/api/v1/dealers/{agent_uid}/merchants/{store_uid}",
            "/admin/api/v1/orders",
            "/admin/api/v1/notices/{id}/resend",
            "/admin/api/v1/emails/{id}/resend",
            "/admin/api/v1/audit/export",
            "/admin/api/v1/clock/advance",
        ] {
            assert!(paths.contains_key(path), "{path}");
        }
        assert_eq!(paths.len(), 23, "{:?}", paths.keys().collect::<Vec<_>>());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
