//! Where a notice's connection may go, decided where its host is resolved: the HTTP
//! client gets only the public addresses a name resolves to
//! ([`crate::ledger::notify_url::is_public`]), so the connection itself can reach
//! nothing else, whatever the name points at.

use crate::ledger::notify_url::is_public;

/// A resolver for the notices' HTTP client that hands it only public addresses.
pub fn public_only() -> std::sync::Arc<PublicResolver> {
    std::sync::Arc::new(PublicResolver)
}

pub struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<std::net::SocketAddr> = found.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
