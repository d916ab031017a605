//! E-mail for real (`--smtp URL`): the mail outbox (notice failures, throttles, key
//! reminders, unresolved payments) delivered through an SMTP server, tried again while the
//! server is away, so a mail queued during an outage arrives once it is back. Without
//! `--smtp` the outbox is only kept.
//!
//! The URL: `smtp://[USER[:PASSWORD]@]HOST[:PORT]?from=ADDRESS` (STARTTLS when the server
//! offers it; port 587 by default) or `smtps://…` (TLS from the start; port 465). The
//! password may come from a file instead: `?password_file=PATH`. Mails to an address
//! that is not one (a merchant without a contact address) go to `from`, the
//! installation's own mailbox.

use crate::store::{OutgoingMail, Store};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;

/// Where and as whom mail is sent.
#[derive(Clone)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The URL without its password, for logs.
    shown: String,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Smtp {
    pub fn parse(text: &str) -> anyhow::Result<Smtp> {
        let url = url::Url::parse(text.trim()).map_err(|e| anyhow::anyhow!("--smtp: {e}"))?;
        let implicit_tls = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => anyhow::bail!("--smtp: the scheme must be smtp or smtps, not {other:?}"),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| anyhow::anyhow!("--smtp: the URL names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port().unwrap_or(if implicit_tls { 465 } else { 587 });
        let mut from = None;
        let mut password_file = None;
        for (k, v) in url.query_pairs() {
            match &*k {
                "from" => from = Some(v.into_owned()),
                "password_file" => password_file = Some(v.into_owned()),
                other => anyhow::bail!("--smtp: unknown parameter {other:?} (from, password_file)"),
            }
        }
        let from: Mailbox = from
            .ok_or_else(|| anyhow::anyhow!("--smtp: say who mail is from: ?from=ADDRESS"))?
            .parse()
            .map_err(|e| anyhow::anyhow!("--smtp: from: {e}"))?;
        let user = percent(url.username());
        let password = match (url.password(), &password_file) {
            (Some(_), Some(_)) => {
                anyhow::bail!("--smtp: a password in the URL or in a file, not both")
            }
            (Some(p), None) => Some(percent(p)),
            (None, Some(path)) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("--smtp: password_file {path}: {e}"))?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            ),
            (None, None) => None,
        };
        let parameters = TlsParameters::new(host.clone())
            .map_err(|e| anyhow::anyhow!("--smtp: TLS for {host}: {e}"))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .timeout(Some(Duration::from_secs(20)))
            .tls(if implicit_tls {
                Tls::Wrapper(parameters)
            } else {
                Tls::Opportunistic(parameters)
            });
        if !user.is_empty() {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.unwrap_or_default()));
        }
        let shown = format!(
            "{}://{}{host}:{port} from {from}",
            url.scheme(),
            if user.is_empty() {
                String::new()
            } else {
                format!("{user}@")
            }
        );
        Ok(Smtp {
            transport: builder.build(),
            from,
            shown,
        })
    }

    /// Send one mail; the server's refusal or the connection's failure, in words.
    async fn send(&self, mail: &OutgoingMail) -> Result<(), String> {
        // Not an address (a merchant without a contact): the installation's own mailbox.
        let to: Mailbox = mail.to.parse().unwrap_or_else(|_| self.from.clone());
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .body(mail.body.clone())
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// A user name or password as the URL spells it (`%40` for `@`), decoded.
fn percent(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// How long a mail taken to send is held from other senders (a node dying mid-send gives
/// it back after this).
const HOLD: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);

/// The wait before attempt `n + 1` of a mail that failed `n` times: 2 s, doubling, at most
/// 5 minutes. Mail is retried for as long as it takes.
pub fn retry_after(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 10) - 1).unwrap_or(0);
    Duration::from_secs((2u64 << exponent).min(300))
}

/// Deliver the outbox for as long as the gateway runs: every waiting mail, then a look
/// every `poll`.
pub async fn run(store: Store, smtp: Arc<Smtp>, poll: Duration) {
    tracing::info!(smtp = ?smtp, "delivering the mail outbox");
    loop {
        loop {
            let now = jiff::Timestamp::now();

            let mail = match store.take_mail(now, now + HOLD).await {
                Ok(Some(mail)) => mail,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "taking a mail to send");
                    break;
                }
            };
            let sent = smtp.send(&mail).await;
            let now = jiff::Timestamp::now();
            let recorded = match &sent {
                Ok(()) => store.mail_sent(mail.id, now).await,
                Err(why) => {
                    let wait = jiff::SignedDuration::try_from(retry_after(mail.attempts))
                        .unwrap_or(jiff::SignedDuration::from_secs(300));
                    tracing::warn!(
                        id = mail.id,
                        attempts = mail.attempts,
                        error = why,
                        "a mail was not sent; trying again later"
                    );
                    store.mail_failed(mail.id, why, now + wait).await
                }
            };
            if let Err(e) = recorded {
                tracing::warn!(error = %e, id = mail.id, "recording a mail's delivery");
            }
            if sent.is_err() {
                // The server is away: the others wait their turn too.
                break;
            }
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_what_is_wrong() {
        assert!(Smtp::parse("smtp://mail.example:2525?from=gw@example.com").is_ok());
        assert!(Smtp::parse("smtps://u:p%40ss@mail.example?from=gw@example.com").is_ok());
        let e = Smtp::parse("smtp://mail.example").expect_err("no from");
        assert!(e.to_string().contains("from"), "{e}");
        let e = Smtp::parse("http://mail.example?from=a@b.c").expect_err("scheme");
        assert!(e.to_string().contains("scheme"), "{e}");
        let e = Smtp::parse("smtp://mail.example?from=a@b.c&color=red").expect_err("param");
        assert!(e.to_string().contains("color"), "{e}");
        let shown = format!(
            "{:?}",
            Smtp::parse("smtp://u:secret@h?from=a@b.c").expect("ok")
        );
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn retries_double_from_two_seconds_to_five_minutes() {
        assert_eq!(retry_after(1), Duration::from_secs(2));
        assert_eq!(retry_after(2), Duration::from_secs(4));
        assert_eq!(retry_after(20), Duration::from_secs(300));
    }
}
