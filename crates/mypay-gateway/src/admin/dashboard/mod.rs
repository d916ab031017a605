//! The dashboard: server-rendered pages on the admin listener's `/`, in Traditional
//! Chinese and English, that work without JavaScript. Sign-in makes a session (an
//! `HttpOnly`, `SameSite=Strict` cookie, `Secure` over TLS; 8 idle hours end it); every
//! form carries the session's form token. The pages call what the admin API calls.

mod pages;
mod words;

use super::{SESSION_COOKIE, cookie};
use crate::service::admins::{self, SignInError};
use crate::state::AppState;
use crate::store::AdminRole;
use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use std::collections::HashMap;
use std::net::SocketAddr;
pub use words::Words;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/orders") }))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/assets/admin.css", get(stylesheet))
        .merge(pages::routes())
        .layer(axum::middleware::map_response(page_headers))
}

/// Pages are never cached and never framed; the stylesheet is the gateway's own.
async fn page_headers(response: Response) -> Response {
    let mut response = crate::http::edge::security_headers(response).await;
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../../templates/admin/admin.css"),
    )
        .into_response()
}

/// Who is signed in, as a page needs them.
pub(crate) struct Me {
    pub user: String,
    pub csrf: String,
    pub operator: bool,
}

/// A signed-in dashboard user; a page asked without a session goes to the sign-in page.
pub(crate) struct Signed {
    pub me: Me,
    pub words: &'static Words,
    /// The language cookie to set, when `?lang=` chose one.
    pub set_lang: Option<&'static str>,
}

impl Signed {
    pub fn actor(&self) -> String {
        format!("user:{}", self.me.user)
    }
}

/// The words a request asks for, and the cookie to set when `?lang=` chose them.
fn words_of(parts: &Parts) -> (&'static Words, Option<&'static str>) {
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let asked = query.get("lang").map(String::as_str);
    let words = words::choose(
        asked,
        cookie(&parts.headers, "lang"),
        parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    (words, asked.map(|_| words.lang))
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let (words, set_lang) = words_of(parts);
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/sign-in").into_response());
        };
        match admins::session(&state.store, value, jiff::Timestamp::now()).await {
            Ok(Some(s)) => Ok(Signed {
                me: Me {
                    user: s.user,
                    csrf: s.csrf,
                    operator: s.role == AdminRole::Operator,
                },
                words,
                set_lang,
            }),
            Ok(None) => Err(Redirect::to("/sign-in").into_response()),
            Err(e) => {
                tracing::error!(error = %e, "reading a dashboard session");
                Err(message_page(
                    words,
                    None,
                    StatusCode::SERVICE_UNAVAILABLE,
                    words.retry,
                    &[],
                ))
            }
        }
    }
}

/// A page's answer, with the language cookie when `?lang=` chose one.
pub(crate) fn page(signed: &Signed, template: impl Template) -> Response {
    let mut response = render(template);
    if let Some(lang) = signed.set_lang {
        set_cookie(
            &mut response,
            &format!("lang={lang}; Path=/; SameSite=Strict; Max-Age=31536000"),
        );
    }
    response
}

fn render(template: impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a dashboard page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response()
        }
    }
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Template)]
#[template(path = "admin/message.html")]
struct MessagePage<'a> {
    w: &'static Words,
    me: Option<&'a Me>,
    heading: &'a str,
    lines: &'a [(String, String)],
    note: Option<&'a str>,
}

/// A page that says one thing (a refusal, or a secret shown once), with a way back.
pub(crate) fn message_page(
    w: &'static Words,
    me: Option<&Me>,
    status: StatusCode,
    heading: &str,
    lines: &[(String, String)],
) -> Response {
    let note = (status == StatusCode::CREATED).then_some(w.shown_once);
    let mut response = render(MessagePage {
        w,
        me,
        heading,
        lines,
        note,
    });
    *response.status_mut() = if status == StatusCode::CREATED {
        StatusCode::OK
    } else {
        status
    };
    response
}

/// Why a form may not act: its session's form token missing or wrong, or a viewer
/// sending it. `None`: it may.
pub(crate) fn form_refused(signed: &Signed, form: &HashMap<String, String>) -> Option<Response> {
    if form.get("csrf").map(String::as_str) != Some(signed.me.csrf.as_str()) {
        return Some(message_page(
            signed.words,
            Some(&signed.me),
            StatusCode::FORBIDDEN,
            signed.words.refused,
            &[(
                "csrf".into(),
                "the form is out of date; open the page again".into(),
            )],
        ));
    }
    if !signed.me.operator {
        return Some(message_page(
            signed.words,
            Some(&signed.me),
            StatusCode::FORBIDDEN,
            signed.words.refused,
            &[(String::new(), signed.words.viewer_note.into())],
        ));
    }
    None
}

#[derive(Template)]
#[template(path = "admin/sign_in.html")]
struct SignInPage<'a> {
    w: &'static Words,
    me: Option<&'a Me>,
    csrf: &'a str,
    name: &'a str,
    error: Option<&'a str>,
}

/// The sign-in form's token lives in a cookie of its own until there is a session.
const SIGN_IN_COOKIE: &str = "mypay_admin_form";

fn cookie_flags(state: &AppState) -> &'static str {
    if state.secure_cookies() || state.settings.tls.is_some() {
        "HttpOnly; SameSite=Strict; Secure; Path=/"
    } else {
        "HttpOnly; SameSite=Strict; Path=/"
    }
}

fn sign_in_form(
    state: &AppState,
    w: &'static Words,
    set_lang: Option<&'static str>,
    status: StatusCode,
    name: &str,
    error: Option<&str>,
) -> Response {
    let csrf = admins::random_token(24);
    let mut response = render(SignInPage {
        w,
        me: None,
        csrf: &csrf,
        name,
        error,
    });
    *response.status_mut() = status;
    set_cookie(
        &mut response,
        &format!(
            "{SIGN_IN_COOKIE}={csrf}; {}; Max-Age=3600",
            cookie_flags(state)
        ),
    );
    if let Some(lang) = set_lang {
        set_cookie(
            &mut response,
            &format!("lang={lang}; Path=/; SameSite=Strict; Max-Age=31536000"),
        );
    }
    response
}

async fn sign_in_page(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let (parts, _) = request.into_parts();
    let (w, set_lang) = words_of(&parts);
    sign_in_form(&state, w, set_lang, StatusCode::OK, "", None)
}

/// `POST /sign-in`: name and password; after 5 failures for one name from one address in
/// 15 minutes, 429 whatever the password.
async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let w = words::choose(
        query.get("lang").map(String::as_str),
        cookie(&headers, "lang"),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let name = form.get("name").map(String::as_str).unwrap_or("").trim();
    let password = form.get("password").map(String::as_str).unwrap_or("");
    let expected = cookie(&headers, SIGN_IN_COOKIE);
    if expected.is_none() || form.get("csrf").map(String::as_str) != expected {
        return sign_in_form(
            &state,
            w,
            None,
            StatusCode::FORBIDDEN,
            name,
            Some("csrf: the form is out of date; please sign in again"),
        );
    }
    if name.is_empty() || name.len() > 64 || password.len() > 1024 {
        return sign_in_form(
            &state,
            w,
            None,
            StatusCode::UNAUTHORIZED,
            name,
            Some(w.wrong_sign_in),
        );
    }
    let address = peer.ip().to_string();
    match admins::start_session(
        &state.store,
        name,
        password,
        &address,
        jiff::Timestamp::now(),
    )
    .await
    {
        Ok(started) => {
            let mut response = Redirect::to("/orders").into_response();
            set_cookie(
                &mut response,
                &format!(
                    "{SESSION_COOKIE}={}; {}",
                    started.token,
                    cookie_flags(&state)
                ),
            );
            set_cookie(
                &mut response,
                &format!("{SIGN_IN_COOKIE}=; {}; Max-Age=0", cookie_flags(&state)),
            );
            response
        }
        Err(SignInError::Throttled) => sign_in_form(
            &state,
            w,
            None,
            StatusCode::TOO_MANY_REQUESTS,
            name,
            Some(w.throttled),
        ),
        Err(SignInError::Wrong) => sign_in_form(
            &state,
            w,
            None,
            StatusCode::UNAUTHORIZED,
            name,
            Some(w.wrong_sign_in),
        ),
        Err(SignInError::Store(e)) => {
            tracing::error!(error = %e, "signing in");
            sign_in_form(
                &state,
                w,
                None,
                StatusCode::SERVICE_UNAVAILABLE,
                name,
                Some(w.retry),
            )
        }
    }
}

/// `POST /sign-out`: the session ends and its cookie is cleared.
async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed: Signed,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if form.get("csrf").map(String::as_str) != Some(signed.me.csrf.as_str()) {
        return message_page(
            signed.words,
            Some(&signed.me),
            StatusCode::FORBIDDEN,
            signed.words.refused,
            &[(
                "csrf".into(),
                "the form is out of date; open the page again".into(),
            )],
        );
    }
    if let Some(value) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = admins::end_session(&state.store, value, jiff::Timestamp::now()).await
    {
        tracing::error!(error = %e, "ending a dashboard session");
    }
    let mut response = Redirect::to("/sign-in").into_response();
    set_cookie(
        &mut response,
        &format!("{SESSION_COOKIE}=; {}; Max-Age=0", cookie_flags(&state)),
    );
    response
}
