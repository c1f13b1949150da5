//! `/embed` in a browser: inside a cross-origin iframe, live, themed, and without JavaScript.

use fantoccini::Locator;
use serde_json::json;

use crate::harness::{
    App, Browser, CACHE_TTL, EPISODE, EPISODE_TITLE, LOAD_DEADLINE, OtherOrigin, TRACK,
    TRACK_ARTISTS, TRACK_TITLE, blog_with_iframe, screenshot_dir, spotify_playing, text,
    wait_for_title,
};

/// Opens the blog page of `origin` and enters the widget's iframe.
async fn open_blog(browser: &Browser, app: &App, origin: &OtherOrigin, query: &str) {
    let page = origin.page("/", &blog_with_iframe(app, query));
    browser
        .client
        .goto(&page)
        .await
        .expect("the blog page loads");
    enter_widget_frame(browser).await;
}

async fn enter_widget_frame(browser: &Browser) {
    browser
        .client
        .find(Locator::Id("np"))
        .await
        .expect("the blog page has the iframe")
        .enter_frame()
        .await
        .expect("WebDriver enters the cross-origin iframe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: .ci/run runs them with --ignored"]
async fn a_page_on_another_origin_shows_the_track_in_the_iframe() {
    let spotify = spotify_playing(TRACK).await;
    let app = App::spawn(&spotify).await;
    let origin = OtherOrigin::start().await;
    let browser = Browser::start().await;

    open_blog(&browser, &app, &origin, "").await;
    let (widget, _) = wait_for_title(&browser, TRACK_TITLE, LOAD_DEADLINE).await;
    assert_eq!(widget["artists"], json!(TRACK_ARTISTS), "{widget}");
    let classes = text(&widget["classes"]);
    assert!(classes.contains("np-state-playing"), "{classes}");

    // Really another origin: the frame is the app's, the page around it is not.
    let frame_origin = browser.js("return window.location.origin").await;
    assert_eq!(frame_origin, json!(app.origin()));
    browser.client.enter_parent_frame().await.unwrap();
    let top_origin = browser.js("return window.location.origin").await;
    assert_eq!(top_origin, json!(origin.origin()));
    assert_ne!(top_origin, frame_origin);
    // And the top page cannot reach into the frame (the browser enforces the boundary).
    let blocked = browser
        .js(
            r#"try { return document.getElementById("np").contentDocument === null; }
                catch (e) { return true; }"#,
        )
        .await;
    assert_eq!(
        blocked,
        json!(true),
        "the top page can read the frame's document"
    );

    browser.screenshot("iframe-cross-origin.png").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: .ci/run runs them with --ignored"]
async fn the_iframe_shows_the_next_item_without_reloading() {
    let spotify = spotify_playing(TRACK).await;
    let app = App::spawn(&spotify).await;
    let origin = OtherOrigin::start().await;
    let browser = Browser::start().await;

    let page = origin.page("/", &blog_with_iframe(&app, ""));
    browser
        .client
        .goto(&page)
        .await
        .expect("the blog page loads");
    browser.js("window.__marker = 'top'; return null").await;
    enter_widget_frame(&browser).await;
    wait_for_title(&browser, TRACK_TITLE, LOAD_DEADLINE).await;
    // Markers that a reload (of the frame or of the page) would wipe out.
    browser.js("window.__marker = 1; return null").await;
    browser.screenshot("live-before.png").await;

    spotify.set_playing(EPISODE);
    let deadline = CACHE_TTL + std::time::Duration::from_secs(2);
    let (widget, took) = wait_for_title(&browser, EPISODE_TITLE, deadline).await;
    // For the record only (either way must work): did the page poll the JSON, or did the
    // change come over the event stream?
    let polls = browser
        .js(r#"return performance.getEntriesByType("resource")
                .filter(function (e) { return new URL(e.name).pathname === "/now-playing"; })
                .length"#)
        .await;
    let summary = format!(
        "live update in the browser: {} ms (CACHE_TTL {} s, allowed {} ms; \
         polls of /now-playing by the frame: {polls})",
        took.as_millis(),
        CACHE_TTL.as_secs(),
        deadline.as_millis()
    );
    eprintln!("{summary}");
    std::fs::write(screenshot_dir().join("live-update.txt"), summary + "\n").unwrap();
    assert!(took <= deadline, "the new item showed after {took:?}");
    let classes = text(&widget["classes"]);
    assert!(classes.contains("np-state-playing"), "{classes}");
    assert_eq!(
        browser.js("return window.__marker").await,
        json!(1),
        "the iframe was reloaded instead of updated in place"
    );
    browser.screenshot("live-after.png").await;
    browser.client.enter_parent_frame().await.unwrap();
    assert_eq!(
        browser.js("return window.__marker").await,
        json!("top"),
        "the page was reloaded"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: .ci/run runs them with --ignored"]
async fn light_and_dark_themes_render() {
    let spotify = spotify_playing(TRACK).await;
    let app = App::spawn(&spotify).await;
    let browser = Browser::start().await;

    let mut colours = Vec::new();
    for (theme, background) in [("light", "rgb(255, 255, 255)"), ("dark", "rgb(24, 24, 24)")] {
        browser
            .client
            .goto(&app.url(&format!("/embed?theme={theme}")))
            .await
            .expect("the embed loads");
        let (widget, _) = wait_for_title(&browser, TRACK_TITLE, LOAD_DEADLINE).await;
        let classes = text(&widget["classes"]);
        assert!(classes.contains(&format!("np-theme-{theme}")), "{classes}");
        assert_eq!(widget["background"], json!(background), "{theme}: {widget}");
        assert_ne!(
            widget["color"], widget["background"],
            "{theme}: the title is invisible: {widget}"
        );
        // The stylesheet really loaded (not only a default white page).
        let styled = browser
            .js(r#"return getComputedStyle(document.querySelector(".np")).borderTopLeftRadius"#)
            .await;
        assert_ne!(styled, json!("0px"), "{theme}: widget.css did not apply");
        browser.screenshot(&format!("embed-{theme}.png")).await;
        colours.push((widget["background"].clone(), widget["color"].clone()));
    }
    assert_ne!(colours[0], colours[1], "light and dark look the same");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: .ci/run runs them with --ignored"]
async fn without_javascript_the_server_rendered_widget_shows_the_track() {
    let spotify = spotify_playing(TRACK).await;
    let app = App::spawn(&spotify).await;
    let origin = OtherOrigin::start().await;
    let browser = Browser::start_without_javascript().await;

    // JavaScript is really off in this session: an inline script does not run and
    // <noscript> content is shown.
    let probe = origin.page(
        "/probe",
        r#"<!doctype html><title>no script ran</title>
<script>document.title = "a script ran";</script>
<noscript><p id="nojs">JavaScript is off</p></noscript>"#,
    );
    browser.client.goto(&probe).await.expect("the probe loads");
    assert_eq!(browser.client.title().await.unwrap(), "no script ran");
    browser
        .client
        .find(Locator::Id("nojs"))
        .await
        .expect("<noscript> content is shown: JavaScript is off");

    browser
        .client
        .goto(&app.url("/embed"))
        .await
        .expect("the embed loads");
    let widget = browser
        .client
        .find(Locator::Css("div.np[data-np]"))
        .await
        .expect("the server rendered the widget");
    let classes = widget.attr("class").await.unwrap().unwrap_or_default();
    assert!(classes.contains("np-state-playing"), "{classes}");
    let title = widget.find(Locator::Css(".np-title")).await.unwrap();
    assert_eq!(title.text().await.unwrap(), TRACK_TITLE);
    let artists = widget.find(Locator::Css(".np-artists")).await.unwrap();
    assert_eq!(artists.text().await.unwrap(), TRACK_ARTISTS);
    let (_, _, width, height) = widget.rectangle().await.unwrap();
    assert!(width > 100.0 && height > 30.0, "widget is {width}x{height}");
    let radius = widget.css_value("border-top-left-radius").await.unwrap();
    assert_ne!(radius, "0px", "widget.css applies without JavaScript");
    browser.screenshot("embed-nojs.png").await;
    browser.close().await;
}
