//! The widget in real headless Chromium, driven by chromedriver through fantoccini.
//!
//! Every test is `#[ignore]`d so that `cargo test` passes on a machine without a browser;
//! `.ci/run` installs Chromium and runs them with
//! `cargo test --test browser -- --ignored`, where a missing Chromium or chromedriver
//! fails the tests (they never skip). Each test starts its own app, mock Spotify, other
//! origin and chromedriver, so they run in parallel. Screenshots of every state go to
//! `target/browser-screenshots/`.

mod a11y;
mod embed;
mod harness;
mod svg;
mod xss;
