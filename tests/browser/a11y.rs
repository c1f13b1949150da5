//! Accessibility (SPEC 11) in real Chromium: axe-core on every page in every theme and both
//! colour schemes, no running animation under `prefers-reduced-motion: reduce`, and a polite
//! live region that announces a new track but not progress ticks.
//!
//! axe-core 4.14.1 is vendored from its npm package (`npm pack axe-core`) as
//! `vendor/axe.min.js`, under the MPL-2.0 (`vendor/axe-core-LICENSE.txt`).

use serde_json::{Value, json};

use crate::harness::{
    App, Browser, EPISODE, EPISODE_TITLE, LOAD_DEADLINE, TRACK, TRACK_TITLE, eventually,
    spotify_playing, text, wait_for_title,
};

const AXE: &str = include_str!("vendor/axe.min.js");

/// A DevTools protocol command, through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// Emulates `prefers-color-scheme` and `prefers-reduced-motion` for the pages that follow.
async fn emulate(browser: &Browser, scheme: &str, reduced_motion: bool) {
    let motion = if reduced_motion {
        "reduce"
    } else {
        "no-preference"
    };
    let params = json!({ "features": [
        { "name": "prefers-color-scheme", "value": scheme },
        { "name": "prefers-reduced-motion", "value": motion },
    ]});
    browser
        .client
        .issue_cmd(Cdp {
            cmd: "Emulation.setEmulatedMedia",
            params,
        })
        .await
        .expect("chromedriver passes DevTools commands on");
    let matched = browser
        .js(&format!(
            "return matchMedia('(prefers-color-scheme: {scheme})').matches \
             && matchMedia('(prefers-reduced-motion: {motion})').matches"
        ))
        .await;
    assert_eq!(matched, json!(true), "the emulation took effect");
}

/// axe-core's serious and critical violations of WCAG 2.x A and AA on the current page.
async fn serious_violations(browser: &Browser) -> Vec<Value> {
    let script = format!(
        "{AXE}\n;const done = arguments[arguments.length - 1];\
         axe.run(document, {{ runOnly: {{ type: 'tag', values: \
         ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] }} }})\
         .then(r => done({{ ok: r.passes.length, violations: r.violations\
           .filter(v => v.impact === 'serious' || v.impact === 'critical')\
           .map(v => ({{ id: v.id, impact: v.impact, help: v.help, \
                         nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary) }})) }}))\
         .catch(e => done({{ error: String(e) }}));"
    );
    let result = browser
        .client
        .execute_async(&script, vec![])
        .await
        .expect("axe runs");
    assert!(result["error"].is_null(), "axe failed: {result}");
    assert!(
        result["ok"].as_u64().unwrap_or(0) > 0,
        "axe checked something: {result}"
    );
    result["violations"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: .ci/run runs them with --ignored"]
async fn every_page_passes_axe_in_every_theme_and_colour_scheme() {
    let spotify = spotify_playing(TRACK).await;
    let app = App::spawn(&spotify).await;
    let browser = Browser::start().await;

    let mut pages = vec!["/".to_owned(), "/?theme=dark&layout=compact".to_owned()];
    for theme in ["light", "dark", "auto"] {
        for layout in ["card", "compact"] {
            pages.push(format!("/embed?theme={theme}&layout={layout}"));
        }
        for list in ["recently-played", "top/tracks", "top/artists"] {
            pages.push(format!("/embed/{list}?theme={theme}"));
        }
    }
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for scheme in ["light", "dark"] {
        emulate(&browser, scheme, false).await;
        for page in &pages {
            browser.client.goto(&app.url(page)).await.unwrap();
            if page.starts_with("/embed?") {
                wait_for_title(&browser, TRACK_TITLE, LOAD_DEADLINE).await;
            }
            if page.starts_with("/embed/") {
                let rows = browser
                    .js("return document.querySelectorAll('.np-row').length")
                    .await;
                assert_eq!(rows, json!(5), "{page} shows five rows");
                if !page.contains("theme=auto") {
                    let name = page
                        .trim_start_matches("/embed/")
                        .replace(['/', '?', '='], "-");
                    browser.screenshot(&format!("list-{name}.png")).await;
                }
            }
            let violations = serious_violations(&browser).await;
            report.push(format!(
                "{page} ({scheme} scheme): {} serious or critical",
                violations.len()
            ));
            if !violations.is_empty() {
                failures.push(format!("{page} ({scheme}): {violations:#?}"));
            }
        }
    }
    println!("axe-core 4.14.1 results:\n{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: .ci/run runs them with --ignored"]
async fn under_reduced_motion_nothing_runs_an_animation() {
    let spotify = spotify_playing(TRACK).await;
    let app = App::spawn(&spotify).await;
    let browser = Browser::start().await;
    let running = "return document.getAnimations()\
                   .filter(a => a.playState === 'running').length";

    for (page, reduced) in [
        ("/embed", false),
        ("/embed", true),
        ("/now-playing.svg", false),
        ("/now-playing.svg", true),
    ] {
        emulate(&browser, "light", reduced).await;
        browser.client.goto(&app.url(page)).await.unwrap();
        if page == "/embed" {
            wait_for_title(&browser, TRACK_TITLE, LOAD_DEADLINE).await;
        }
        let count = browser.js(running).await.as_u64().unwrap();
        if reduced {
            assert_eq!(count, 0, "{page}: animations run under reduced motion");
        } else {
            // The equaliser (and on the card the progress bar) move: the check can fail.
            assert!(count >= 3, "{page}: {count} running animations");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: .ci/run runs them with --ignored"]
async fn a_new_track_is_announced_politely_and_progress_ticks_are_not() {
    let spotify = spotify_playing(TRACK).await;
    let app = App::spawn(&spotify).await;
    let browser = Browser::start().await;

    browser.client.goto(&app.url("/embed")).await.unwrap();
    wait_for_title(&browser, TRACK_TITLE, LOAD_DEADLINE).await;
    let region = browser
        .js(r#"const r = document.querySelector("[data-np-announce]");
               window.npAnnouncements = [];
               new MutationObserver(() => window.npAnnouncements.push(r.textContent))
                 .observe(r, { childList: true, characterData: true, subtree: true });
               return { live: r.getAttribute("aria-live"), role: r.getAttribute("role"),
                        text: r.textContent };"#)
        .await;
    assert_eq!(region["live"], "polite");
    assert_eq!(region["role"], "status");
    assert_eq!(
        text(&region["text"]),
        "",
        "the served state is not announced"
    );

    spotify.set_playing(EPISODE);
    wait_for_title(&browser, EPISODE_TITLE, LOAD_DEADLINE).await;
    let announced = browser.js("return window.npAnnouncements").await;
    assert_eq!(announced.as_array().map(Vec::len), Some(1), "{announced}");
    assert!(text(&announced[0]).contains(EPISODE_TITLE), "{announced}");

    // The progress bar ticks once a second; none of its ticks is announced.
    let start = browser
        .js("return document.querySelector('.np-progress').value")
        .await;
    let start = start.as_f64().expect("a progress value");
    eventually("the progress bar ticked twice", LOAD_DEADLINE, || async {
        let now = browser
            .js("return document.querySelector('.np-progress').value")
            .await;
        match now.as_f64() {
            Some(value) if value >= start + 1500.0 => Ok(()),
            _ => Err(now.to_string()),
        }
    })
    .await;
    let announced = browser.js("return window.npAnnouncements").await;
    assert_eq!(announced.as_array().map(Vec::len), Some(1), "{announced}");
}
