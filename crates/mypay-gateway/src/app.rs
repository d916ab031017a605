//! Building and running the gateway: the store, the core, the state, the router, the
//! workers. `main.rs` reads settings and calls [`Application::build`]; tests do the same
//! on port 0.

use crate::clock::Clock;
use crate::config::{Mode, Settings};
use crate::ledger::connector::CardAcquirer;
use crate::ledger::notify_url::NotifyHosts;
use crate::state::{AppState, Shared};
use crate::store::Store;
use crate::{notify, sandbox};
use axum::Router;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    tls: Option<Arc<crate::http::tls::Tls>>,
    /// The back office's listener, when it has one.
    admin: Option<TcpListener>,
}

impl Application {
    /// The gateway as `settings` describe it, on its mode's clock: the sandbox's test
    /// clock (stored, moved by the sandbox), else the system's.
    pub async fn build_for(settings: Settings) -> anyhow::Result<Application> {
        use anyhow::Context;
        let clock = match settings.mode {
            Mode::Sandbox => Clock::test(),
            Mode::Production => Clock::system(),
        };
        Application::build(settings, clock)
            .await
            .context("the gateway cannot start")
    }

    /// Open the store, seed the sample merchant, bind the listener. In the sandbox the
    /// simulated acquirer takes the money; production needs a connector of its own
    /// ([`Application::build_with`]).
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Application> {
        Application::build_with(settings, clock, None).await
    }

    /// [`Application::build`] with the upstream connector that moves the money. Without
    /// one, the sandbox uses its simulated acquirer, and production refuses to start:
    /// it must never take money through the simulation.
    pub async fn build_with(
        settings: Settings,
        clock: Clock,
        acquirer: Option<Arc<dyn CardAcquirer>>,
    ) -> anyhow::Result<Application> {
        if settings.mode == Mode::Production && acquirer.is_none() && settings.upstreams.is_none() {
            anyhow::bail!(
                "production mode moves money only through upstreams, and none is configured: \
                 list them in a file given by --upstreams (env MYPAY_UPSTREAMS); see \
                 docs/upstream-protocol.md. Or run with --mode sandbox."
            );
        }
        // Read before anything is opened: a wrong file stops the start at once.
        let tls = match &settings.tls {
            Some(files) => Some(Arc::new(crate::http::tls::Tls::load(
                &files.cert,
                &files.key,
            )?)),
            None => None,
        };
        let metrics = crate::http::metrics::Metrics::default();
        let store = Store::open(
            &settings.database,
            &crate::store::StoreOptions {
                on_commit: Some({
                    let metrics = metrics.clone();
                    Arc::new(move |n| metrics.committed(n))
                }),
                ..settings.store_options()
            },
        )
        .await?;
        if settings.seed_sample_merchant && settings.mode == Mode::Sandbox {
            store.seed_sample_merchant(clock.now()).await?;
        }
        let acquirer: Arc<dyn CardAcquirer> = match (settings.mode, acquirer, &settings.upstreams) {
            (_, Some(a), _) => a,
            // The simulation never moves money, and serves the sandbox only.
            (Mode::Sandbox, None, _) => Arc::new(sandbox::cards::TestCardAcquirer),
            (Mode::Production, None, Some(upstreams)) => {
                every_tool_has_an_upstream(&store, upstreams, clock.now()).await?;
                Arc::new(crate::upstream::cards::HttpCards::new(
                    upstreams.clone(),
                    store.clone(),
                )?)
            }
            (Mode::Production, None, None) => anyhow::bail!("production needs upstreams"),
        };
        let movements: Option<Arc<dyn crate::ledger::connector::Movements>> =
            match (settings.mode, &settings.upstreams) {
                (Mode::Production, Some(upstreams)) => {
                    Some(Arc::new(crate::upstream::movements::HttpMovements::new(
                        upstreams.clone(),
                        store.clone(),
                    )?))
                }
                _ => None,
            };
        // The test clocks continue where they stood: stored, and never back.
        let clocks = crate::clock::Clocks::new(clock);
        crate::service::follow_stored_clocks(&store, &clocks).await?;
        let tickets = crate::tickets::Tickets::new(store.installation_secret().await?);
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let admin = match settings.admin_listen {
            None => None,
            Some(admin) => match TcpListener::bind(admin.addr).await {
                Ok(l) => Some(l),
                Err(e) if admin.required => {
                    anyhow::bail!("cannot listen on {} (--admin-listen): {e}", admin.addr)
                }
                Err(e) => {
                    tracing::warn!(addr = %admin.addr, error = %e, "the back office's default address is taken: no back office (set --admin-listen)");
                    None
                }
            },
        };
        let base_url: Arc<str> = settings
            .public_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| {
                let scheme = if tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{}:{port}", settings.listen.ip())
            })
            .into();
        let policy = settings.notify_policy();
        let mut http = reqwest::Client::builder()
            .timeout(settings.notify_timeout)
            .redirect(reqwest::redirect::Policy::none());
        if policy.hosts == NotifyHosts::Public {
            // Connect only to the public addresses a name resolves to, and never through a
            // proxy, which would connect wherever it is told.
            http = http
                .dns_resolver(crate::notify::resolver::public_only())
                .no_proxy();
        }
        let http = http.build()?;
        let directory = crate::directory::Directory::new(store.clone());
        let leases = crate::store::Leases::new(settings.lease);
        let notices_waiting = Arc::new(Notify::new());
        let deliveries = notify::worker::Deliveries::new(notify::worker::DeliverySetup {
            store: store.clone(),
            directory: directory.clone(),
            clocks: clocks.clone(),
            http,
            policy,
            timeout: settings.notify_timeout,
            limits: notify::worker::Limits {
                total: settings.notify_concurrency,
                per_merchant: settings.notify_per_merchant,
            },
            wake: notices_waiting.clone(),
            leases: leases.clone(),
        });
        let state = AppState(Arc::new(Shared {
            core: crate::service::Gateway {
                directory,
                settings: Arc::new(settings),
                store,
                clocks,
                acquirer,
                movements,
                notices_waiting,
                leases,
            },
            tickets,
            throttle: Default::default(),
            deliveries,
            metrics,
            base_url,
        }));
        let router = crate::router::build(state.clone());
        Ok(Application {
            listener,
            router,
            state,
            tls,
            admin,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The back office's port, when it listens.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve HTTP and run the workers until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let workers = [
            tokio::spawn(
                self.state
                    .deliveries
                    .clone()
                    .run(self.state.settings.worker_poll),
            ),
            tokio::spawn(crate::service::timers::run(self.state.core.clone())),
            tokio::spawn(clock_follower(self.state.clone())),
        ];
        let limits = crate::http::serve::ConnectionLimits {
            header_read_timeout: self.state.settings.header_read_timeout,
            max_connections: self.state.settings.max_connections,
            per_address: self.state.settings.max_connections_per_address,
        };
        let mailer = self.state.settings.smtp.clone().map(|smtp| {
            tokio::spawn(crate::notify::mail::run(
                self.state.store.clone(),
                smtp,
                self.state
                    .settings
                    .worker_poll
                    .max(std::time::Duration::from_millis(200)),
            ))
        });
        let reloader = self
            .tls
            .clone()
            .map(|tls| tokio::spawn(crate::http::tls::reload_on_hangup(tls)));
        let acceptor = self.tls.as_ref().map(|t| t.acceptor());
        // One shutdown for both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let until = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let admin = self.admin.map(|listener| {
            let router = crate::admin::router(self.state.clone());
            // The back office over TLS too when the gateway has it.
            let acceptor = self.tls.as_ref().map(|t| t.acceptor());
            tokio::spawn(crate::http::serve::serve(
                listener,
                router,
                limits,
                acceptor,
                until(stopped.clone()),
            ))
        });
        let served = crate::http::serve::serve(
            self.listener,
            self.router,
            limits,
            acceptor,
            until(stopped.clone()),
        )
        .await;
        if let Some(admin) = admin {
            let _ = admin.await;
        }
        for w in workers.into_iter().chain(reloader).chain(mailer) {
            w.abort();
        }
        // Work this node held is free for the others at once, not when its leases end.
        let lease = self.state.leases.issue();
        if let Err(e) = self.state.store.release_leases(&lease).await {
            tracing::warn!(error = %e, "giving back leases at shutdown");
        }
        served?;
        Ok(())
    }
}

/// Production starts only when every tool a merchant has enabled has an upstream to
/// move its money; otherwise it names the first that lacks one.
async fn every_tool_has_an_upstream(
    store: &Store,
    upstreams: &crate::upstream::Upstreams,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    for summary in store.merchant_summaries(now).await? {
        let Some(merchant) = store.merchant(&summary.store_uid).await? else {
            continue;
        };
        for setting in &merchant.settings.tools {
            if upstreams.for_tool(setting.tool).is_none() {
                anyhow::bail!(
                    "merchant {} has {} ({}) enabled, and no upstream in the upstreams file \
                     moves it: add the tool to an [[upstream]]'s tools, or disable it for \
                     the merchant (mypay-gateway merchant set {} --tools …)",
                    merchant.store_uid,
                    setting.tool.code(),
                    setting.tool.name_zh(),
                    merchant.store_uid
                );
            }
        }
    }
    Ok(())
}

/// Keep following the stored clocks: woken when another node signals a move, and every
/// poll interval besides (for connections that cannot listen).
async fn clock_follower(state: AppState) {
    if !state.on_test_clock() {
        return;
    }
    loop {
        if let Err(e) = state.core.follow_stored_clocks().await {
            tracing::warn!(error = %e, "reading the stored clock");
        }
        tokio::select! {
            _ = state.store.wakeups().notified() => {}
            _ = tokio::time::sleep(state.settings.worker_poll) => {}
        }
    }
}
