//! From raw body to an authenticated command: read the outer fields, find whose key seals
//! the request (merchant, dealer or client-mode code, SPEC §3), open the envelope with
//! each valid key in turn, read `service`.

use super::{ApiError, Route};
use crate::state::AppState;
use crate::store::{CredentialOwner, Merchant};
use mypay_protocol::envelope;
use mypay_protocol::outer::OuterRequest;
use mypay_protocol::{Command, Service};

/// A request whose envelope opened, for one merchant.
pub struct Authenticated {
    pub command: Command,
    pub merchant: std::sync::Arc<Merchant>,
    /// The decrypted `encry_data` JSON.
    pub data: Vec<u8>,
}

pub async fn authenticate(
    state: &AppState,
    route: Route,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Authenticated, ApiError> {
    let outer = OuterRequest::from_body(content_type, body)
        .map_err(|e| ApiError::envelope(format!("request body: {e}")))?;
    // Neither sealed field: not a sealed request at all (an order sent as it is, or a
    // body not read as a form), not one with a field missing.
    if outer.service.is_none() && outer.encry_data.is_none() {
        return Err(ApiError::envelope(unsealed(content_type)));
    }
    let (owner, owner_uid) = match route {
        Route::Init | Route::Open if outer.agent_uid.is_none() => {
            let kind = if route == Route::Open {
                CredentialOwner::Client
            } else {
                CredentialOwner::Store
            };
            (kind, required(&outer.store_uid, "store_uid")?)
        }
        // A dealer may come in on /api/init too; older manuals' dealer samples send the
        // dealer id as `store_uid` on /api/agent.
        Route::Init | Route::Agent => match (&outer.agent_uid, &outer.store_uid) {
            (Some(a), _) if !a.is_empty() => (CredentialOwner::Agent, a.clone()),
            (_, Some(s)) if !s.is_empty() => (CredentialOwner::Agent, s.clone()),
            _ => return Err(ApiError::envelope("agent_uid: is required")),
        },
        Route::Open => {
            return Err(ApiError::envelope(
                "agent_uid: dealers use /api/agent, not /api/open",
            ));
        }
    };
    let service_sealed = required(&outer.service, "service")?;
    let data_sealed = required(&outer.encry_data, "encry_data")?;

    // Keys are valid on the owner's clock: a dealer's is the shared one.
    let now = match owner {
        CredentialOwner::Agent => state.clocks.shared().now(),
        CredentialOwner::Store | CredentialOwner::Client => state.now_for(&owner_uid),
    };
    // One reading of the directory's generation for the whole request: the sender's
    // keys and the merchant are as they are now.
    let generation = state
        .directory
        .generation()
        .await
        .map_err(ApiError::internal)?;
    let sender = state
        .directory
        .entry_at(generation, owner, &owner_uid)
        .await
        .map_err(ApiError::internal)?;
    let credentials = sender.keys_at(now);
    if credentials.is_empty() {
        let field = if owner == CredentialOwner::Agent {
            "agent_uid"
        } else {
            "store_uid"
        };
        return Err(ApiError::envelope(format!(
            "{field}: {owner_uid:?} is not a known {} with a valid key",
            match owner {
                CredentialOwner::Store => "merchant",
                CredentialOwner::Agent => "dealer",
                CredentialOwner::Client => "merchant (client mode)",
            }
        ))
        .counted());
    }
    // Every way of failing to open a field gets the same answer (see ApiError::unopened).
    let service_raw =
        envelope::decode_base64(&service_sealed).map_err(|_| ApiError::unopened("service"))?;
    let data_raw =
        envelope::decode_base64(&data_sealed).map_err(|_| ApiError::unopened("encry_data"))?;

    // A request is tried against every valid key (two overlap before a key expires).
    let opened = credentials.into_iter().find_map(|key| {
        let plain = envelope::open_bytes(&key, &service_raw).ok()?;
        let service = serde_json::from_slice::<Service>(&plain).ok()?;
        Some((key, service))
    });
    let Some((key, service)) = opened else {
        return Err(ApiError::unopened("service"));
    };
    let cmd = service
        .cmd
        .as_deref()
        .ok_or_else(|| ApiError::envelope("service.cmd: is required"))?;
    let command = Command::parse(cmd).ok_or_else(|| {
        ApiError::envelope(format!("service.cmd: {cmd:?} is not a command of this API"))
    })?;
    if owner == CredentialOwner::Client
        && !matches!(command, Command::Orders | Command::EwalletBind)
    {
        return Err(ApiError::envelope(format!(
            "service.cmd: {} is not allowed in client mode (/api/open allows api/orders and api/ewalletbind)",
            command.cmd()
        )));
    }
    let data = envelope::open_bytes(&key, &data_raw)
        .ok()
        .filter(|plain| std::str::from_utf8(plain).is_ok())
        .ok_or_else(|| ApiError::unopened("encry_data"))?;

    let merchant = match owner {
        CredentialOwner::Store | CredentialOwner::Client => {
            // The inner `store_uid`, when given, must name the credentials' merchant, on
            // every command. `api/orders` checks it while parsing its typed request (one
            // JSON pass on the hot path), every other command here. Most of their requests
            // name no merchant inside (the query samples do not), so a byte search spares
            // them a second JSON pass; a key can also be spelled with escapes
            // (`store\u005fuid`), so any escape means a parse too.
            if command != Command::Orders
                && (memchr::memmem::find(&data, b"store_uid").is_some()
                    || memchr::memmem::find(&data, b"\\u").is_some())
            {
                let inner: InnerStore = parse_data(command, &data)?;
                same_merchant(command, "store_uid", inner.store_uid.as_deref(), &owner_uid)?;
            }
            sender.merchant.clone().ok_or_else(|| {
                ApiError::envelope(format!("store_uid: {owner_uid:?} is not a known merchant"))
            })?
        }
        CredentialOwner::Agent => {
            // The dealer acts for one of its merchants, named inside encry_data.
            let inner: InnerStore = parse_data(command, &data)?;
            let store_uid = inner.store_uid.ok_or_else(|| {
                ApiError::new(command, "encry_data.store_uid: is required in dealer mode")
            })?;

            state
                .directory
                .entry_at(generation, CredentialOwner::Store, &store_uid)
                .await
                .map_err(ApiError::internal)?
                .merchant
                .clone()
                .filter(|m| m.agent_uid.as_deref() == Some(owner_uid.as_str()))
                .ok_or_else(|| {
                    ApiError::new(
                        command,
                        format!(
                            "store_uid: {store_uid:?} is not a merchant of dealer {owner_uid:?}"
                        ),
                    )
                })?
        }
    };
    Ok(Authenticated {
        command,
        merchant,
        data,
    })
}

/// Why a body with none of the outer fields was refused: what it was, and what to send.
fn unsealed(content_type: Option<&str>) -> String {
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let send = "send store_uid (or agent_uid), service and encry_data, sealed with the key, \
                as application/x-www-form-urlencoded or application/json";
    match media.as_str() {
        "multipart/form-data" => format!("request body: multipart/form-data is not read; {send}"),
        "" => format!("request body: has no service or encry_data; {send}"),
        other => format!(
            "request body: {other} with no service or encry_data (a request must be sealed, not sent as it is); {send}"
        ),
    }
}

#[derive(serde::Deserialize)]
struct InnerStore {
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_string")]
    store_uid: Option<String>,
}

/// Who a request says it is from (`agent_uid`, else `store_uid`), for the failure
/// throttle; `None` when the body has neither.
pub fn sender(content_type: Option<&str>, body: &[u8]) -> Option<String> {
    let outer = OuterRequest::from_body(content_type, body).ok()?;
    outer
        .agent_uid
        .filter(|a| !a.trim().is_empty())
        .or(outer.store_uid)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn required(value: &Option<String>, field: &str) -> Result<String, ApiError> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::envelope(format!("{field}: is required")))
}

/// Parse `encry_data` into a request type; errors name the JSON path of the bad field.
pub fn parse_data<T: serde::de::DeserializeOwned>(
    command: Command,
    data: &[u8],
) -> Result<T, ApiError> {
    // Tracking the path costs a visible share of an order's CPU, and only a bad request
    // needs it: parse plainly, and parse again with tracking only to explain a failure.
    if let Ok(value) = serde_json::from_slice(data) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(data);
    serde_path_to_error::deserialize(de).map_err(|e| {
        // Not JSON at all is one of the ways a field fails to open: the same answer as
        // bad padding. Only JSON of the wrong shape is explained, naming the field.
        if !matches!(e.inner().classify(), serde_json::error::Category::Data) {
            return ApiError::unopened("encry_data");
        }
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            ApiError::new(
                command,
                format!("encry_data: is not a valid JSON object ({inner})"),
            )
        } else {
            ApiError::new(command, format!("{path}: {inner}"))
        }
    })
}

/// A merchant named inside the data (at `field`) must be the credentials' own.
pub(super) fn same_merchant(
    command: Command,
    field: &str,
    named: Option<&str>,
    owner_uid: &str,
) -> Result<(), ApiError> {
    match named {
        Some(named) if named != owner_uid => Err(ApiError::new(
            command,
            format!("{field}: {named:?} does not match the credentials' merchant {owner_uid:?}"),
        )),
        _ => Ok(()),
    }
}
