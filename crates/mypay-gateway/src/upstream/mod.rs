//! The upstreams that move the money in production, and the HTTP connector that speaks
//! protocol v1 (`mypay-upstream`) to them.
//!
//! An operator lists them in a TOML file (`--upstreams FILE`, env `MYPAY_UPSTREAMS`):
//!
//! ```toml
//! [[upstream]]
//! name = "acquirer"
//! url = "https://acquirer.example"
//! secret = "whsec_…"
//! tools = ["CREDITCARD", "C_INSTALLMENT"]   # or ["*"]
//! timeout_secs = 30
//! ```
//!
//! Each tool is moved by the first upstream that lists it. Callbacks arrive at
//! `POST /upstream/{name}/callback` (`http::callbacks`), and the core applies them
//! (`service::callbacks`).

pub mod cards;
pub mod client;
pub mod movements;

use mypay_protocol::PaymentTool;
use mypay_upstream::signature::Secret;
use std::path::Path;
use std::time::Duration;

/// One upstream of the file.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub name: String,
    /// The base URL; requests go to `{url}/v1/…`.
    pub url: url::Url,
    pub secret: Secret,
    /// `None`: every tool (`["*"]`).
    pub tools: Option<Vec<PaymentTool>>,
    pub timeout: Duration,
}

impl Upstream {
    pub fn moves(&self, tool: PaymentTool) -> bool {
        self.tools.as_ref().is_none_or(|t| t.contains(&tool))
    }
}

/// Every upstream of the file, in its order.
#[derive(Debug, Clone, Default)]
pub struct Upstreams(Vec<Upstream>);

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    upstream: Vec<Entry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    url: String,
    secret: String,
    tools: Vec<String>,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
}

fn default_timeout() -> u64 {
    30
}

impl Upstreams {
    pub fn load(path: &Path) -> anyhow::Result<Upstreams> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("the upstreams file {}: {e}", path.display()))?;
        Upstreams::parse(&text)
            .map_err(|e| anyhow::anyhow!("the upstreams file {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Upstreams> {
        let file: File = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        let mut upstreams = Vec::new();
        for (i, entry) in file.upstream.into_iter().enumerate() {
            let at = format!("upstream {} ({:?})", i + 1, entry.name);
            let name_ok = (1..=64).contains(&entry.name.len())
                && entry
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !name_ok {
                anyhow::bail!("{at}: name must be 1 to 64 letters, digits, - or _");
            }
            if upstreams.iter().any(|u: &Upstream| u.name == entry.name) {
                anyhow::bail!("{at}: the name is used twice");
            }
            let mut url = url::Url::parse(&entry.url)
                .map_err(|e| anyhow::anyhow!("{at}: url {:?}: {e}", entry.url))?;
            match url.scheme() {
                "https" => {}
                "http" if is_loopback(&url) => {}
                _ => anyhow::bail!(
                    "{at}: url must be https:// (http:// only for a loopback address)"
                ),
            }
            if !url.username().is_empty() || url.password().is_some() {
                anyhow::bail!("{at}: url must not carry credentials; the secret signs requests");
            }
            // Paths are joined to the base: it ends with a slash, so a prefix is kept.
            if !url.path().ends_with('/') {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            let secret = Secret::parse(&entry.secret).map_err(|_| {
                anyhow::anyhow!("{at}: secret must be whsec_ and at least 16 bytes of base64")
            })?;
            let tools = if entry.tools.iter().any(|t| t.trim() == "*") {
                None
            } else {
                let mut tools = Vec::new();
                for code in &entry.tools {
                    let tool = PaymentTool::parse(code.trim())
                        .ok_or_else(|| anyhow::anyhow!("{at}: tools: {code:?} is no tool code"))?;
                    tools.push(tool);
                }
                if tools.is_empty() {
                    anyhow::bail!("{at}: tools must list tool codes, or \"*\"");
                }
                Some(tools)
            };
            if !(1..=300).contains(&entry.timeout_secs) {
                anyhow::bail!("{at}: timeout_secs must be 1 to 300");
            }
            upstreams.push(Upstream {
                name: entry.name,
                url,
                secret,
                tools,
                timeout: Duration::from_secs(entry.timeout_secs),
            });
        }
        if upstreams.is_empty() {
            anyhow::bail!("no [[upstream]] is listed");
        }
        Ok(Upstreams(upstreams))
    }

    /// The upstream that moves `tool`.
    pub fn for_tool(&self, tool: PaymentTool) -> Option<&Upstream> {
        self.0.iter().find(|u| u.moves(tool))
    }

    pub fn named(&self, name: &str) -> Option<&Upstream> {
        self.0.iter().find(|u| u.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Upstream> {
        self.0.iter()
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn file(url: &str, tools: &str) -> String {
        format!(
            "[[upstream]]\nname = \"bank\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\ntools = {tools}\ntimeout_secs = 5\n"
        )
    }

    #[test]
    fn a_file_reads_with_its_tools() {
        let u =
            Upstreams::parse(&file("https://bank.example", r#"["CREDITCARD"]"#)).expect("valid");
        assert!(u.for_tool(PaymentTool::CreditCard).is_some());
        assert!(u.for_tool(PaymentTool::CvsCode).is_none());
        let all = Upstreams::parse(&file("http://127.0.0.1:9090", r#"["*"]"#)).expect("valid");
        assert!(all.for_tool(PaymentTool::CvsCode).is_some());
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        for url in [
            "http://bank.example",
            "ftp://127.0.0.1",
            "https://u:p@bank.example",
        ] {
            assert!(Upstreams::parse(&file(url, r#"["*"]"#)).is_err(), "{url}");
        }
        for url in ["http://localhost:1", "http://[::1]:2", "http://127.0.0.9"] {
            assert!(Upstreams::parse(&file(url, r#"["*"]"#)).is_ok(), "{url}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        let e =
            Upstreams::parse(&file("https://b.example", r#"["NOPE"]"#)).expect_err("unknown tool");
        assert!(e.to_string().contains("NOPE"), "{e}");
        let e = Upstreams::parse("[[upstream]]\nname = \"b\"\n").expect_err("missing keys");
        assert!(e.to_string().contains("url"), "{e}");
        let bad_secret = file("https://b.example", r#"["*"]"#).replace(SECRET, "whsec_abc");
        assert!(Upstreams::parse(&bad_secret).is_err());
        assert!(Upstreams::parse("").is_err());
    }
}
