//! Accessibility in real Chromium: axe-core on every page in every theme and both
//! colour schemes, no animation or transition under `prefers-reduced-motion: reduce` (the
//! progress bar's user-agent shadow parts included), and a polite live region that
//! announces a new track but not progress ticks.
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

/// Sends one DevTools protocol command to the current page; its result.
async fn cdp(browser: &Browser, cmd: &'static str, params: Value) -> Value {
    try_cdp(browser, cmd, params)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Sends one DevTools protocol command to the current page; its result, or what went wrong.
async fn try_cdp(browser: &Browser, cmd: &'static str, params: Value) -> Result<Value, String> {
    browser
        .client
        .issue_cmd(Cdp { cmd, params })
        .await
        .map_err(|e| format!("{cmd}: {e}"))
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
    cdp(browser, "Emulation.setEmulatedMedia", params).await;
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

/// How one element of the page may move, from its computed style.
#[derive(Debug)]
struct Motion {
    /// `tag.class` or `tag[pseudo=…]` (a user-agent shadow part), `::before` or `::after`.
    node: String,
    transition_property: String,
    transition_duration: String,
    animation_name: String,
}

impl Motion {
    fn moves(&self) -> bool {
        let transitions = self.transition_property != "none"
            && self
                .transition_duration
                .split(',')
                .any(|duration| duration.trim() != "0s");
        let animates = self
            .animation_name
            .split(',')
            .any(|name| name.trim() != "none");
        transitions || animates
    }
}

/// Every element of the current page with its computed transition and animation, read
/// through the DevTools protocol: `DOM.getDocument` with `pierce` reaches the user-agent
/// shadow tree of `<progress>`, whose `-webkit-progress-value` part neither
/// `getComputedStyle` nor `document.getAnimations()` can see.
///
/// Fails when the page changed under the sweep (`embed.js` replaces the served widget once
/// its first state arrives, and the node ids of the old one die with it): try again.
async fn motion_styles(browser: &Browser) -> Result<Vec<Motion>, String> {
    try_cdp(browser, "DOM.enable", json!({})).await?;
    try_cdp(browser, "CSS.enable", json!({})).await?;
    let document = try_cdp(
        browser,
        "DOM.getDocument",
        json!({ "depth": -1, "pierce": true }),
    )
    .await?;
    let mut elements = Vec::new();
    collect_elements(&document["root"], &mut elements);
    let mut motions = Vec::new();
    for (node_id, node) in elements {
        let style = try_cdp(
            browser,
            "CSS.getComputedStyleForNode",
            json!({ "nodeId": node_id }),
        )
        .await?;
        let property = |name: &str| {
            style["computedStyle"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == name)
                .map(|p| text(&p["value"]))
                .unwrap_or_else(|| panic!("{node} has no computed {name}: {style}"))
        };
        motions.push(Motion {
            transition_property: property("transition-property"),
            transition_duration: property("transition-duration"),
            animation_name: property("animation-name"),
            node,
        });
    }
    Ok(motions)
}

/// The node id and a readable name of every element under `node`, through shadow roots,
/// pseudo-elements and frames.
fn collect_elements(node: &Value, out: &mut Vec<(u64, String)>) {
    if node["nodeType"] == 1 {
        let attributes: Vec<String> = node["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        let attribute = |name: &str| {
            attributes
                .chunks(2)
                .find(|pair| pair[0] == name)
                .map(|pair| pair[1].clone())
        };
        let name = if let Some(pseudo) = node["pseudoType"].as_str() {
            format!("::{pseudo}")
        } else if let Some(pseudo) = attribute("pseudo") {
            format!("{}[pseudo={pseudo}]", text(&node["localName"]))
        } else if let Some(class) = attribute("class") {
            format!("{}.{}", text(&node["localName"]), class.replace(' ', "."))
        } else {
            text(&node["localName"])
        };
        let id = node["nodeId"].as_u64().expect("a node id");
        out.push((id, name));
    }
    for key in ["shadowRoots", "pseudoElements", "children"] {
        for child in node[key].as_array().into_iter().flatten() {
            collect_elements(child, out);
        }
    }
    if node["contentDocument"].is_object() {
        collect_elements(&node["contentDocument"], out);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: .ci/run runs them with --ignored"]
async fn under_reduced_motion_nothing_animates_or_transitions() {
    let spotify = spotify_playing(TRACK).await;
    let app = App::spawn(&spotify).await;
    let browser = Browser::start().await;
    let running = "return document.getAnimations()\
                   .filter(a => a.playState === 'running').length";
    let progress_value = "div[pseudo=-webkit-progress-value]";

    for reduced in [false, true] {
        emulate(&browser, "light", reduced).await;
        for page in ["/embed", "/embed/recently-played", "/now-playing.svg"] {
            browser.client.goto(&app.url(page)).await.unwrap();
            if page == "/embed" {
                wait_for_title(&browser, TRACK_TITLE, LOAD_DEADLINE).await;
            }
            let count = browser.js(running).await.as_u64().unwrap();
            let (motions, _) = eventually(
                &format!("{page}: a sweep of its computed styles"),
                LOAD_DEADLINE,
                || motion_styles(&browser),
            )
            .await;
            let moving: Vec<&Motion> = motions.iter().filter(|m| m.moves()).collect();
            println!(
                "{page}, reduced motion {reduced}: {count} running animations; moving: {moving:#?}"
            );
            if page == "/embed" {
                // The bar glides from tick to tick unless motion is reduced.
                let bar = motions
                    .iter()
                    .find(|m| m.node == progress_value)
                    .unwrap_or_else(|| panic!("{page}: no {progress_value} in {motions:#?}"));
                println!("{page}, reduced motion {reduced}: {bar:?}");
                assert_eq!(bar.moves(), !reduced, "{page}: {bar:?}");
            }
            if reduced {
                assert_eq!(count, 0, "{page}: animations run under reduced motion");
                assert!(
                    moving.is_empty(),
                    "{page} moves under reduced motion: {moving:#?}"
                );
            } else if page != "/embed/recently-played" {
                // The equaliser (and on the card the progress bar) move: the checks above
                // can fail.
                assert!(count >= 3, "{page}: {count} running animations");
                assert!(moving.len() >= 3, "{page}: {moving:#?}");
            }
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
