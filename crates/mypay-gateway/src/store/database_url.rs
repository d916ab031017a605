//! `--database`: which backend, and where.
//!
//! `sqlite://PATH` or a plain path is a SQLite file; `postgres://` or `postgresql://`
//! (user, password, host, port, database, `sslmode` and the other libpq parameters) is
//! PostgreSQL. Anything else with a scheme is refused: a URL silently taken as a file
//! name would start an empty gateway beside the real one.

use std::path::PathBuf;

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    /// The URL as given (its password included: never print it, see `Display`).
    Postgres(String),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("--database is empty")]
    Empty,
    #[error(
        "--database: the scheme {0:?} is not supported; use sqlite://PATH, a file path, or postgres://USER@HOST:PORT/DATABASE"
    )]
    UnknownScheme(String),
    #[error("--database: {0}")]
    Malformed(String),
}

impl std::str::FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(s: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        if s.trim().is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            // No scheme: a path. (A Windows drive letter `C:\…` has no `://` either.)
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(s)));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => {
                // `sqlite://data/x.sqlite` and `sqlite:///abs/x.sqlite`; query options
                // are not taken (the gateway sets its own durability settings).
                let path = rest.split(['?', '#']).next().unwrap_or_default();
                if path.is_empty() {
                    return Err(DatabaseUrlError::Malformed(
                        "sqlite:// needs a file path".into(),
                    ));
                }
                Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
            }
            "postgres" | "postgresql" => {
                let parsed = url::Url::parse(s)
                    .map_err(|e| DatabaseUrlError::Malformed(format!("not a valid URL: {e}")))?;
                if parsed.path().trim_start_matches('/').is_empty() {
                    return Err(DatabaseUrlError::Malformed(
                        "name the database: postgres://USER@HOST:PORT/DATABASE".into(),
                    ));
                }
                Ok(DatabaseUrl::Postgres(s.to_owned()))
            }
            other => Err(DatabaseUrlError::UnknownScheme(other.to_owned())),
        }
    }
}

impl DatabaseUrl {
    /// The URL in full, password included: for handing to another process, never for
    /// printing.
    pub fn to_connection_string(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => path.display().to_string(),
            DatabaseUrl::Postgres(s) => s.clone(),
        }
    }
}

/// For logs: the password left out.
impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(s) => match url::Url::parse(s) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    write!(f, "{u}")
                }
                Err(_) => f.write_str("postgres://…"),
            },
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        s.parse()
    }

    #[test]
    fn paths_and_sqlite_urls_are_files() {
        for (given, path) in [
            ("data/mypay.sqlite", "data/mypay.sqlite"),
            ("/var/lib/mypay.db", "/var/lib/mypay.db"),
            ("sqlite://data/x.sqlite", "data/x.sqlite"),
            ("sqlite:///abs/x.sqlite", "/abs/x.sqlite"),
            ("SQLITE://x.db?mode=rwc", "x.db"),
        ] {
            assert_eq!(
                parse(given),
                Ok(DatabaseUrl::Sqlite(path.into())),
                "{given}"
            );
        }
    }

    #[test]
    fn postgres_urls_in_both_spellings() {
        for given in [
            "postgres://mypay@127.0.0.1:5432/mypay",
            "postgresql://mypay:secret@db.internal/mypay?sslmode=require",
        ] {
            assert_eq!(parse(given), Ok(DatabaseUrl::Postgres(given.into())));
        }
    }

    #[test]
    fn other_schemes_and_incomplete_urls_are_refused() {
        assert_eq!(
            parse("mysql://root@localhost/mypay"),
            Err(DatabaseUrlError::UnknownScheme("mysql".into()))
        );
        assert!(matches!(
            parse("postgres://mypay@localhost:5432"),
            Err(DatabaseUrlError::Malformed(_))
        ));
        assert!(matches!(
            parse("sqlite://"),
            Err(DatabaseUrlError::Malformed(_))
        ));
        assert_eq!(parse("  "), Err(DatabaseUrlError::Empty));
    }

    #[test]
    fn the_password_never_shows() {
        let url = parse("postgres://mypay:hunter2@db/mypay").expect("url");
        assert!(!url.to_string().contains("hunter2"), "{url}");
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
