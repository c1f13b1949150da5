//! `now-playing auth`: the whole manual recipe for a refresh token (dashboard, authorize URL,
//! copying the code, base64 of the client credentials, curl to the token endpoint) in one
//! command. Messages for the person go to stderr; the result goes to stdout or a file.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use chrono::Utc;
use reqwest::Url;
use secrecy::ExposeSecret;
use tokio::sync::mpsc;

use crate::cli::AuthArgs;
use crate::metrics::Metrics;
use crate::render::html::message_page;
use crate::spotify::accounts::{Accounts, ExchangeError};
use crate::spotify::authorize;
use crate::spotify::lifetime::refresh_token_expires_at;
use crate::spotify::types::TokenResponse;
use crate::storage;

/// Runs the command; exit 0 with a refresh token, non-zero with one line saying what to fix.
pub async fn run(args: AuthArgs) -> ExitCode {
    match flow(&args).await {
        Ok(tokens) => match save(&args, &tokens) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        },
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("\nerror: {message}");
    ExitCode::FAILURE
}

async fn flow(args: &AuthArgs) -> Result<TokenResponse, String> {
    let client = args
        .spotify
        .resolve_client()
        .map_err(|e| e.to_string().trim_end().to_owned())?;
    let redirect_uri = authorize::check_redirect_uri(&args.redirect_uri)?;
    eprintln!("Redirect URI: it must be registered, exactly like this, in your app's settings");
    eprintln!("(https://developer.spotify.com/dashboard -> your app -> Edit -> Redirect URIs):\n");
    eprintln!("    {redirect_uri}\n");
    let accounts = Accounts::new(crate::spotify::http_client(), &client, Metrics::new());

    if let Some(code) = &args.code {
        eprintln!("Exchanging the code you pasted...");
        return accounts
            .exchange_code(code.trim(), &redirect_uri)
            .await
            .map_err(|e| e.to_string());
    }

    let state = authorize::random_state();
    let url = authorize::authorize_url(
        &client.accounts_url,
        &client.client_id,
        &redirect_uri,
        &args.scopes,
        &state,
    );
    if !authorize::is_loopback_ip(&redirect_uri) {
        eprintln!(
            "Open this URL, approve, then copy the `code` parameter from the address Spotify sends you to:\n\n    {url}\n"
        );
        return Err(format!(
            "{redirect_uri} is not on this machine, so the answer cannot be caught here: run `now-playing auth --redirect-uri {redirect_uri} --code CODE` with that code"
        ));
    }
    let address = listen_address(&redirect_uri)?;
    let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
        format!("cannot listen on {address} for Spotify's redirect ({e}); pick another port with --redirect-uri http://127.0.0.1:PORT/callback and register it in the dashboard")
    })?;

    eprintln!(
        "Open this URL and approve access (Spotify asks you to log in first):\n\n    {url}\n"
    );
    if !args.no_browser && open_browser(url.as_str()) {
        eprintln!("(opened in your browser)");
    }
    eprintln!(
        "Waiting for Spotify to send you back to {redirect_uri} (up to {} s)...",
        args.timeout
    );

    let (tx, mut rx) = mpsc::channel(1);
    let callback = Callback {
        state,
        path: redirect_uri.path().to_owned(),
        redirect_uri: redirect_uri.clone(),
        accounts,
        done: tx,
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let app = Router::new()
        .fallback(handle_callback)
        .with_state(std::sync::Arc::new(callback));
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future(),
    );
    let outcome = tokio::time::timeout(Duration::from_secs(args.timeout), rx.recv()).await;
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    match outcome {
        Ok(Some(result)) => result,
        Ok(None) => Err("the callback listener stopped unexpectedly".into()),
        Err(_) => Err(format!(
            "no answer from the browser within {} s; run `now-playing auth` again (or wait longer with --timeout)",
            args.timeout
        )),
    }
}

fn listen_address(redirect_uri: &Url) -> Result<SocketAddr, String> {
    let port = redirect_uri.port_or_known_default().unwrap_or(80);
    let host = match redirect_uri.host() {
        Some(url::Host::Ipv4(ip)) => std::net::IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => std::net::IpAddr::V6(ip),
        _ => return Err(format!("{redirect_uri} has no IP address to listen on")),
    };
    Ok(SocketAddr::new(host, port))
}

struct Callback {
    state: String,
    path: String,
    redirect_uri: Url,
    accounts: Accounts,
    done: mpsc::Sender<Result<TokenResponse, String>>,
}

async fn handle_callback(
    State(cb): State<std::sync::Arc<Callback>>,
    uri: Uri,
    Query(query): Query<authorize::CallbackQuery>,
) -> Response {
    if uri.path() != cb.path {
        return message_page(
            StatusCode::NOT_FOUND,
            "Not here",
            "This is not the redirect URI that `now-playing auth` is waiting on.",
        );
    }
    // Constant-time is not needed: a wrong guess only gets this page, and the listener lives minutes.
    if query.state.as_deref() != Some(cb.state.as_str()) {
        eprintln!("(ignored a callback with a wrong `state`: not from the URL printed above)");
        return message_page(
            StatusCode::BAD_REQUEST,
            "Wrong state",
            "This answer does not belong to the `now-playing auth` run in your terminal. Use the URL it printed.",
        );
    }
    if let Some(error) = query.error {
        let message = if error == "access_denied" {
            "you declined access on Spotify's page (access_denied); run `now-playing auth` again and choose Agree".to_owned()
        } else {
            format!(
                "Spotify answered with error `{error}`; check the app's settings in the dashboard and run `now-playing auth` again"
            )
        };
        let _ = cb.done.send(Err(message.clone())).await;
        return message_page(
            StatusCode::OK,
            "Not authorized",
            &format!("now-playing: {message}. You can close this tab."),
        );
    }
    let Some(code) = query.code else {
        return message_page(
            StatusCode::BAD_REQUEST,
            "No code",
            "Spotify's answer carried no code.",
        );
    };
    let result = cb.accounts.exchange_code(&code, &cb.redirect_uri).await;
    let response = match &result {
        Ok(_) => message_page(
            StatusCode::OK,
            "Done",
            "now-playing has its refresh token. You can close this tab and go back to the terminal.",
        ),
        Err(e) => message_page(
            StatusCode::BAD_GATEWAY,
            "Failed",
            &format!("now-playing could not get a token: {e}"),
        ),
    };
    let _ = cb
        .done
        .send(result.map_err(|e: ExchangeError| e.to_string()))
        .await;
    response
}

/// Writes or prints the new refresh token and says what to do next.
fn save(args: &AuthArgs, tokens: &TokenResponse) -> Result<(), String> {
    let refresh_token = tokens
        .refresh_token
        .as_ref()
        .ok_or("Spotify's answer had no refresh token; run `now-playing auth` again")?;
    let obtained_at = Utc::now();
    let obtained = obtained_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    eprintln!(
        "\nSpotify granted: {}",
        tokens.scope.as_deref().unwrap_or("(no scopes listed)")
    );
    if !tokens
        .scope
        .as_deref()
        .unwrap_or_default()
        .contains("user-read-recently-played")
    {
        eprintln!(
            "warning: without user-read-recently-played the widget cannot show the last played track"
        );
    }
    let mut written = false;
    if let Some(path) = &args.write_env {
        storage::update_env_file(
            path,
            &[
                ("SPOTIFY_REFRESH_TOKEN", refresh_token.expose_secret()),
                ("SPOTIFY_REFRESH_TOKEN_OBTAINED_AT", &obtained),
            ],
        )
        .map_err(|e| e.to_string())?;
        eprintln!(
            "Wrote SPOTIFY_REFRESH_TOKEN and SPOTIFY_REFRESH_TOKEN_OBTAINED_AT to {} (mode 0600).",
            path.display()
        );
        written = true;
    }
    if let Some(path) = args
        .spotify
        .token_file
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        storage::write_token_file(path, refresh_token, Some(obtained_at))
            .map_err(|e| e.to_string())?;
        eprintln!("Wrote the refresh token to {} (mode 0600).", path.display());
        written = true;
    }
    if !written {
        eprintln!("Add these to your .env or environment (or use --write-env .env next time):\n");
        println!("SPOTIFY_REFRESH_TOKEN={}", refresh_token.expose_secret());
        println!("SPOTIFY_REFRESH_TOKEN_OBTAINED_AT={obtained}");
    }
    eprintln!(
        "\nThis refresh token expires on {} (Spotify: 6 months after authorization).",
        refresh_token_expires_at(obtained_at).format("%Y-%m-%d")
    );
    eprintln!("Next: `now-playing check` to try it, then `now-playing serve`.");
    Ok(())
}

/// Opens `url` in the desktop's browser; false when there is none to ask.
fn open_browser(url: &str) -> bool {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}
