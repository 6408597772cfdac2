//! Builds the application: database, keys, router, listeners, mail worker and
//! bulk job runner.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower_sessions::session_store::ExpiredDeletion;

use crate::accounts::PasswordHasher;
use crate::accounts::admins;
use crate::clock::Clock;
use crate::config::Config;
use crate::http::{self, ConnectionLimits};
use crate::jobs::JobRunner;
use crate::mail::{MailWorker, Transport};
use crate::recovery;
use crate::recovery::ResetWriter;
use crate::secrets::{ServerKeys, load_sealing_keys};
use crate::state::AppState;
use crate::store::Db;
use crate::store::sessions::SessionStore;

pub struct Application {
    listener: TcpListener,
    /// `GET /metrics`, apart from the public listener (none when METRICS_LISTEN is empty).
    metrics_listener: Option<TcpListener>,
    state: AppState,
    worker: MailWorker,
}

impl Application {
    /// Connects and migrates the database, loads (or creates) the server keys,
    /// binds the listener and prepares the mail worker.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        // Migrations run on a pool of their own without the serving statement
        // timeout: building an index on a million rows takes longer than 3 s.
        let tool = Db::connect_tool(&config.database_url).await?;
        tool.migrate().await?;
        tool.close().await;
        let db = Db::connect(&config.database_url).await?;
        Self::build_with(config, db, Arc::new(Clock::default())).await
    }

    /// Like `build`, on an open database and a given clock (tests move the clock).
    pub async fn build_with(
        config: Config,
        db: Db,
        clock: Arc<Clock>,
    ) -> anyhow::Result<Application> {
        crate::http::ops_metrics();
        let keys = ServerKeys::load_or_create(&db).await?;
        let sealing = load_sealing_keys(config.secret_key.as_ref(), &db)?;
        let hasher = PasswordHasher::default();
        let warm = hasher.clone();
        // Measuring the sign-in time floor is about a second of hashing (many
        // on a busy machine: 12–16 s to ready at load 20); it runs beside
        // serving, and a check that needs the floor first waits for it.
        drop(tokio::task::spawn_blocking(move || warm.warm_up()));
        let state = AppState {
            db,
            config: Arc::new(config),
            clock,
            hasher,
            keys,
            sealing,
            mail_queued: Arc::new(Notify::new()),
            resets: ResetWriter::new(),
        };
        let transport = Transport::from_config(&state.config)?;
        let worker = MailWorker::new(state.clone(), transport)?;
        let listener = TcpListener::bind(state.config.listen)
            .await
            .with_context(|| format!("cannot listen on {} (LISTEN)", state.config.listen))?;
        let metrics_listener = match state.config.metrics_listen.0 {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address} (METRICS_LISTEN)"))?,
            ),
            None => None,
        };
        if let Some(token) = admins::setup::issue_if_needed(&state).await? {
            let base = state.config.base();
            // The one deliberate exception to "no token in the log": it is how the
            // operator creates the first administrator, and it dies once used.
            tracing::warn!(
                "no administrator exists yet; create the first one at {base}/admin/setup?token={token}"
            );
        }
        Ok(Application {
            listener,
            metrics_listener,
            state,
            worker,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The port `GET /metrics` is served on, if METRICS_LISTEN is set.
    pub fn metrics_port(&self) -> Option<u16> {
        let listener = self.metrics_listener.as_ref()?;
        listener.local_addr().ok().map(|a| a.port())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains requests, the mail worker
    /// and the job runner (which hands its job back to the queue).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            metrics_listener,
            state,
            worker,
        } = self;
        // Requests stop first; the mail worker and janitor once they drained.
        let (serving_tx, serving_rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = serving_tx.send(true);
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let worker = tokio::spawn(worker.run(stop_rx.clone()));
        let jobs = state
            .config
            .run_jobs
            .then(|| tokio::spawn(JobRunner::new(state.clone()).run(stop_rx.clone())));
        let janitor = tokio::spawn(janitor(state.clone(), stop_rx));
        let limits = ConnectionLimits::of(&state.config);
        let metrics = metrics_listener.map(|listener| {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "serving metrics");
            }
            tokio::spawn(http::serve(
                listener,
                http::metrics_router(),
                limits,
                serving_rx.clone(),
            ))
        });
        tracing::info!(address = %listener.local_addr()?, database = state.db.backend_name(), "serving");
        let app = http::router(state.clone());
        http::serve(listener, app, limits, serving_rx).await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        let _ = stop_tx.send(true);
        let _ = worker.await;
        if let Some(jobs) = jobs {
            let _ = jobs.await;
        }
        let _ = janitor.await;
        state.resets.stop();
        state.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Hourly: forgets old reset requests, dead links, expired sessions and old mail.
async fn janitor(state: AppState, mut stop: watch::Receiver<bool>) {
    let sessions = SessionStore::new(state.db.clone());
    loop {
        let now = state.now();
        // Requests and guesses are kept until no limit window can count them.
        let requests_before = now - recovery::limits::WINDOW_SECONDS;
        if let Err(e) = state.db.purge_recovery(requests_before, now).await {
            tracing::warn!(error = %e, "cannot purge reset requests");
        }
        let guesses_before = now - recovery::guessing::WINDOW_SECONDS;
        if let Err(e) = state.db.purge_reset_token_failures(guesses_before).await {
            tracing::warn!(error = %e, "cannot purge reset token failures");
        }
        // Per-address sign-in windows: the longest window there can be (1440 min).
        let windows_before = now - 24 * 3600;
        if let Err(e) = state.db.purge_ip_sign_in_failures(windows_before).await {
            tracing::warn!(error = %e, "cannot purge sign-in failures of addresses");
        }
        if let Err(e) = state.db.purge_mail(now - 30 * 24 * 3600).await {
            tracing::warn!(error = %e, "cannot purge old mail");
        }
        if let Err(e) = sessions.delete_expired().await {
            tracing::warn!(error = %e, "cannot purge expired sessions");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown requested; draining");
}

/// The state a command-line tool needs (no listener, no worker).
pub async fn tool_state(config: Config) -> anyhow::Result<AppState> {
    let db = Db::connect_tool(&config.database_url).await?;
    db.migrate().await?;
    let keys = ServerKeys::load_or_create(&db).await?;
    let sealing = load_sealing_keys(config.secret_key.as_ref(), &db)?;
    Ok(AppState {
        db,
        config: Arc::new(config),
        clock: Arc::new(Clock::default()),
        hasher: PasswordHasher::default(),
        keys,
        sealing,
        mail_queued: Arc::new(Notify::new()),
        resets: ResetWriter::new(),
    })
}
