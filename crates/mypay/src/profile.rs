//! Where the command line points and with which credentials: `--profile NAME` from
//! `~/.config/mypay/config.toml` (`[profiles.NAME]`), the built-in `local` and
//! `mypay-test`, and `MYPAY_URL`, `MYPAY_STORE_UID`, `MYPAY_STORE_KEY` over them. Also the
//! listen cursors kept beside the config.

use mypay_client::{Client, MYPAY_TEST, SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One profile of the config file; every field may be left out.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The API endpoint (`…/api/init`, as the document's samples take it).
    pub url: Option<String>,
    pub store_uid: Option<String>,
    pub store_key: Option<String>,
    /// A dealer's id and key (`/api/agent`).
    pub agent_uid: Option<String>,
    pub agent_key: Option<String>,
    /// A client-mode verification code (`/api/open`).
    pub client_code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// The folder of the config and the cursors: `$XDG_CONFIG_HOME/mypay` or
/// `~/.config/mypay`.
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("mypay");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".config").join("mypay")
}

fn built_in(name: &str) -> Option<Profile> {
    match name {
        "local" => Some(Profile {
            url: Some("http://127.0.0.1:8080/api/init".into()),
            store_uid: Some(SAMPLE_STORE_UID.into()),
            store_key: Some(SAMPLE_STORE_KEY.into()),
            ..Profile::default()
        }),
        "mypay-test" => Some(Profile {
            url: Some(MYPAY_TEST.into()),
            ..Profile::default()
        }),
        _ => None,
    }
}

/// A profile resolved: the config file's over the built-in of the same name, the
/// environment over both.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub profile: Profile,
}

impl Target {
    pub fn resolve(name: &str) -> Result<Target, String> {
        let path = config_dir().join("config.toml");
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str::<ConfigFile>(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFile::default(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let mut profile = built_in(name).unwrap_or_default();
        match file.profiles.get(name) {
            Some(p) => {
                let p = p.clone();
                profile = Profile {
                    url: p.url.or(profile.url),
                    store_uid: p.store_uid.or(profile.store_uid),
                    store_key: p.store_key.or(profile.store_key),
                    agent_uid: p.agent_uid.or(profile.agent_uid),
                    agent_key: p.agent_key.or(profile.agent_key),
                    client_code: p.client_code.or(profile.client_code),
                };
            }
            None if built_in(name).is_none() => {
                return Err(format!(
                    "--profile: no profile {name:?} in {} (built in: local, mypay-test)",
                    path.display()
                ));
            }
            None => {}
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(url) = env("MYPAY_URL") {
            profile.url = Some(url);
        }
        if let Some(uid) = env("MYPAY_STORE_UID") {
            profile.store_uid = Some(uid);
        }
        if let Some(key) = env("MYPAY_STORE_KEY") {
            profile.store_key = Some(key);
        }
        Ok(Target {
            name: name.to_owned(),
            profile,
        })
    }

    pub fn url(&self) -> Result<&str, String> {
        self.profile
            .url
            .as_deref()
            .ok_or_else(|| format!("profile {}: no url (MYPAY_URL)", self.name))
    }

    pub fn store_uid(&self) -> Result<&str, String> {
        self.profile.store_uid.as_deref().ok_or_else(|| {
            format!(
                "profile {}: no store_uid (MYPAY_STORE_UID, or store_uid in the config)",
                self.name
            )
        })
    }

    /// The gateway's base (scheme, host, port) in front of `…/api/init`.
    pub fn base(&self) -> Result<String, String> {
        let url = self.url()?.trim_end_matches('/');
        Ok(["/api/init", "/api/open", "/api/agent"]
            .iter()
            .find_map(|p| url.strip_suffix(p))
            .unwrap_or(url)
            .to_owned())
    }

    /// The client this profile makes: a dealer's when it has a dealer's key, client mode
    /// when it has a verification code and no key, else the merchant's.
    pub fn client(&self) -> Result<Client, String> {
        let p = &self.profile;
        let base = self.base()?;
        let made = if let (Some(agent), Some(key)) = (&p.agent_uid, &p.agent_key) {
            Client::dealer(&format!("{base}/api/agent"), agent, key)
        } else if let (None, Some(code)) = (&p.store_key, &p.client_code) {
            Client::client_mode(&format!("{base}/api/open"), self.store_uid()?, code)
        } else {
            let key = p.store_key.as_deref().ok_or_else(|| {
                format!(
                    "profile {}: no store_key (MYPAY_STORE_KEY, or store_key in the config)",
                    self.name
                )
            })?;
            Client::new(self.url()?, self.store_uid()?, key)
        };
        made.map_err(|e| e.to_string())
    }

    /// The merchant's own client (the notice feed is a merchant's).
    pub fn merchant_client(&self) -> Result<Client, String> {
        let key = self.profile.store_key.as_deref().ok_or_else(|| {
            format!(
                "profile {}: the feed needs the merchant's store_key",
                self.name
            )
        })?;
        Client::new(self.url()?, self.store_uid()?, key).map_err(|e| e.to_string())
    }
}

/// Where `mypay listen` stopped, per profile and merchant.
pub struct Cursors {
    path: PathBuf,
    map: BTreeMap<String, i64>,
}

impl Cursors {
    pub fn load() -> Cursors {
        let path = config_dir().join("listen-cursors.json");
        let map = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Cursors { path, map }
    }

    pub fn get(&self, key: &str) -> Option<i64> {
        self.map.get(key).copied()
    }

    /// Remember `id` for `key`, written through a temporary file and a rename, so a crash
    /// leaves the old cursor or the new one, never half of one.
    pub fn set(&mut self, key: &str, id: i64) -> Result<(), String> {
        self.map.insert(key.to_owned(), id);
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let text = serde_json::to_vec_pretty(&self.map).map_err(|e| e.to_string())?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| format!("{}: {e}", self.path.display()))
    }
}
