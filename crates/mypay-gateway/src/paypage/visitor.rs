//! Who is asking: the consumer's language and CSRF nonce (cookies), and the form
//! extractor every PayPage form handler starts from.

use super::*;

/// What one request knows of the consumer: language and CSRF nonce (from cookies).
pub(super) struct Visitor {
    pub(super) locale: Locale,
    /// The browser's random nonce; the forms' tokens are signed over it and the order.
    nonce: Option<String>,
    /// Cookies to set on the answer.
    set_cookies: Vec<String>,
    /// `; Secure` on cookies when consumers reach us over https.
    secure: bool,
    /// The path the cookies are for: `/payment` (the PayPage) or `/ewallet` (bind pages).
    scope: &'static str,
}

impl Visitor {
    /// The visitor of a page of order ticket `ticket`, and the order it opens; a ticket
    /// that opens nothing answers the not-found page.
    pub(super) fn with_order(
        state: &AppState,
        headers: &HeaderMap,
        ticket: &str,
    ) -> Result<(Visitor, u64), Box<Response>> {
        let visitor = Visitor::from_request(headers, None, state.secure_cookies());
        match state.tickets.open(ticket) {
            Some(uid) => Ok((visitor, uid)),
            None => Err(Box::new(visitor.not_found())),
        }
    }

    pub(super) fn from_request(
        headers: &HeaderMap,
        locale_param: Option<&str>,
        secure: bool,
    ) -> Visitor {
        Visitor::from_request_in("/payment", headers, locale_param, secure)
    }

    pub(super) fn from_request_in(
        scope: &'static str,
        headers: &HeaderMap,
        locale_param: Option<&str>,
        secure: bool,
    ) -> Visitor {
        let cookies = cookies(headers);
        let mut set_cookies = Vec::new();
        let secure_attr = if secure { "; Secure" } else { "" };
        let chosen = locale_param.and_then(Locale::parse);
        if let Some(l) = chosen {
            set_cookies.push(format!(
                "{LOCALE_COOKIE}={}; Path={scope}; SameSite=Lax; Max-Age=2592000{secure_attr}",
                l.code()
            ));
        }
        let locale = chosen
            .or_else(|| cookies.get(LOCALE_COOKIE).and_then(|c| Locale::parse(c)))
            .unwrap_or_default();
        let nonce = cookies
            .get(CSRF_COOKIE)
            .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()))
            .cloned();
        Visitor {
            locale,
            nonce,
            set_cookies,
            secure,
            scope,
        }
    }

    /// The CSRF token of order `uid`'s forms, creating the browser's nonce (and its
    /// cookie) when it has none.
    pub(super) fn csrf_token(&mut self, tickets: &Tickets, uid: u64) -> String {
        let nonce = self.nonce();
        tickets.csrf(uid, &nonce)
    }

    /// The CSRF token of bind request `id`'s forms.
    pub(super) fn wallet_csrf_token(&mut self, tickets: &Tickets, id: u64) -> String {
        let nonce = self.nonce();
        tickets.wallet_csrf(id, &nonce)
    }

    pub(super) fn wallet_csrf_matches(
        &self,
        tickets: &Tickets,
        id: u64,
        form: &HashMap<String, String>,
    ) -> bool {
        match (&self.nonce, form.get("csrf")) {
            (Some(nonce), Some(field)) => tickets.wallet_csrf_valid(id, nonce, field),
            _ => false,
        }
    }

    /// The browser's nonce, created (with its cookie) when it has none.
    fn nonce(&mut self) -> String {
        match &self.nonce {
            Some(n) => n.clone(),
            None => {
                let nonce = crate::ledger::order::new_token();
                let secure_attr = if self.secure { "; Secure" } else { "" };
                self.set_cookies.push(format!(
                    "{CSRF_COOKIE}={nonce}; Path={}; HttpOnly; SameSite=Lax{secure_attr}",
                    self.scope
                ));
                self.nonce = Some(nonce.clone());
                nonce
            }
        }
    }

    /// Whether the form carries the token of order `uid` for this browser's nonce.
    pub(super) fn csrf_matches(
        &self,
        tickets: &Tickets,
        uid: u64,
        form: &HashMap<String, String>,
    ) -> bool {
        match (&self.nonce, form.get("csrf")) {
            (Some(nonce), Some(field)) => tickets.csrf_valid(uid, nonce, field),
            _ => false,
        }
    }

    pub(super) fn respond(
        self,
        status: StatusCode,
        body: Result<String, askama::Error>,
    ) -> Response {
        let mut response = match body {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "rendering a PayPage template");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        };
        for c in self.set_cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// No such page: an unknown order, or a ticket whose token is wrong (the same answer).
    pub(super) fn not_found(self) -> Response {
        let text = texts(self.locale).not_found.to_owned();
        self.message(StatusCode::NOT_FOUND, text)
    }

    /// The form's CSRF token did not verify.
    pub(super) fn expired(self) -> Response {
        let text = texts(self.locale).session_expired.to_owned();
        self.message(StatusCode::FORBIDDEN, text)
    }

    /// A page error in the visitor's language; an internal one says only that nothing
    /// was changed (its cause was logged where it arose).
    pub(super) fn failed(self, error: PageError) -> Response {
        match error {
            PageError::NotFound(_) => self.not_found(),
            PageError::Refused { status, msg } => self.message(status, msg),
            PageError::Internal => {
                let text = texts(self.locale).internal_error.to_owned();
                self.message(StatusCode::INTERNAL_SERVER_ERROR, text)
            }
        }
    }

    pub(super) fn message(self, status: StatusCode, text: String) -> Response {
        let page = MessagePage {
            t: texts(self.locale),
            languages: &LANGUAGES,
            page_path: String::new(),
            locale: self.locale.code(),
            message: text,
        };
        let body = page.render();
        self.respond(status, body)
    }
}

/// The most a PayPage form may hold (its fields are a card's, a few choices, a token).
const FORM_LIMIT: usize = 64 * 1024;

/// A consumer's form posted to one order's page: the ticket in the path opened and the
/// form's CSRF token verified, or the page that says why not (the same "no such page"
/// for an unknown order and a wrong ticket). Every form handler starts from one.
pub(super) struct PostedForm {
    pub(super) visitor: Visitor,
    pub(super) uid: u64,
    pub(super) form: HashMap<String, String>,
}

impl axum::extract::FromRequest<AppState> for PostedForm {
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<PostedForm, Response> {
        let (parts, body) = request.into_parts();
        let visitor = Visitor::from_request(&parts.headers, None, state.secure_cookies());
        // `/payment/<ticket>/…`: the ticket is the segment after `/payment/`.
        let ticket = parts
            .uri
            .path()
            .strip_prefix("/payment/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        let Some(uid) = state.tickets.open(ticket) else {
            return Err(visitor.not_found());
        };
        let Ok(body) = axum::body::to_bytes(body, FORM_LIMIT).await else {
            let text = texts(visitor.locale).form_too_large.to_owned();
            return Err(visitor.message(StatusCode::PAYLOAD_TOO_LARGE, text));
        };
        let form = form_fields(&body);
        if !visitor.csrf_matches(&state.tickets, uid, &form) {
            return Err(visitor.expired());
        }
        Ok(PostedForm { visitor, uid, form })
    }
}

fn cookies(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

pub(super) fn form_fields(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}
