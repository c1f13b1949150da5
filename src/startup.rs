//! Building and running the application: bind (port 0 works), serve until told to stop,
//! then stop accepting, finish in-flight requests and return within a few seconds.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::Config;
use crate::connections::{self, Limits};
pub use crate::state::AppState;

/// How long in-flight requests get to finish once shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {address} (set HOST and PORT): {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_clock(config, Clock::system()).await
    }

    /// As [`Application::build`], with a clock the caller controls (tests).
    pub async fn build_with_clock(config: Config, clock: Clock) -> Result<Self, StartupError> {
        let address = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Bind { address, source })?;
        crate::render::assets::prepare();
        if let crate::config::Source::Spotify(spotify) = &config.source
            && let Some(token_file) = &spotify.token_file
        {
            crate::spotify::token_store::TokenStore::remove_leftovers(token_file);
        }
        let state = AppState::new(config, clock);
        Ok(Self { listener, state })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn run_until_stopped(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self { listener, state } = self;
        let shutdown = state.shutdown.clone();
        tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                signal.await;
                tracing::info!("shutting down: finishing in-flight requests");
                shutdown.cancel();
            }
        });
        tokio::spawn({
            let service = state.service.clone();
            async move { service.warm_up().await }
        });
        tokio::spawn({
            let events = Arc::clone(&state.events);
            let shutdown = shutdown.clone();
            async move { events.poll(shutdown).await }
        });
        tokio::spawn({
            let service = state.service.clone();
            let hint = reauthorize_hint(&state);
            let shutdown = shutdown.clone();
            async move {
                tokio::select! {
                    () = service.watch_expiry(hint) => {},
                    () = shutdown.cancelled() => {},
                }
            }
        });
        if let Some(spotify) = state.service.spotify().cloned() {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = spotify.tokens().keep_token_file() => {},
                    () = shutdown.cancelled() => {},
                }
            });
        }
        tracing::info!(
            address = %listener.local_addr()?,
            demo = state.config.is_demo(),
            "now-playing {} listening",
            env!("CARGO_PKG_VERSION")
        );
        let limits = Limits {
            header_timeout: state.config.header_timeout,
            max_connections: state.config.max_connections,
        };
        let server = connections::serve(
            listener,
            crate::routes::router(state),
            limits,
            shutdown.clone(),
        );
        tokio::select! {
            () = server => {},
            () = async { shutdown.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                tracing::warn!("requests still open after {SHUTDOWN_GRACE:?}; stopping anyway");
            }
        }
        Ok(())
    }
}

/// What the owner can do about an expiring or dead refresh token, for log lines.
fn reauthorize_hint(state: &AppState) -> String {
    match (&state.reauth, &state.config.public_url) {
        (Some(reauth), Some(public_url)) => format!(
            "authorize again with `now-playing auth --write-env .env` or by opening {} (redirect URI to register: {})",
            crate::spotify::settings::endpoint(public_url, "auth/login"),
            reauth.redirect_uri()
        ),
        _ => "authorize again with `now-playing auth --write-env .env` (or set ADMIN_TOKEN and PUBLIC_URL to do it from /auth/login)".into(),
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    // A signal that cannot be listened for must not look like one that arrived.
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
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
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// `GET url`, succeeding on HTTP 200 within 3 s.
pub async fn healthcheck(url: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    match response.status().as_u16() {
        200 => Ok(()),
        other => Err(format!("{url} answered HTTP {other}")),
    }
}
