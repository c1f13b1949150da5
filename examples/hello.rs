//! A bare axum hello-world on the service's own lockfile and release profile: the ceiling of
//! this machine that `cargo xtask bench --only hello` compares the service's `/healthz` with
//! (issue 11). Listens on 127.0.0.1:$PORT (default 8080); `GET /healthz` answers `ok`.

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let app = Router::new().route("/healthz", get(|| async { "ok" }));
    axum::serve(listener, app).await
}
