//! Which cover art and which links of Spotify's answers are kept.
use serde_json::Value;

use super::*;

#[test]
fn the_image_closest_to_300_px_is_chosen() {
    let pick = |widths: &[u32]| {
        let item = item_of(&with(track(), |v| {
            v["item"]["album"]["images"] = images(widths)
        }));
        item.image_url
    };
    let url = |w: u32| Some(format!("https://i.scdn.co/image/w{w}"));
    assert_eq!(pick(&[640, 300, 64]), url(300));
    assert_eq!(pick(&[64, 320, 640]), url(320));
    assert_eq!(pick(&[640, 64]), url(64));
    assert_eq!(pick(&[640]), url(640));
    assert_eq!(pick(&[]), None);
}

#[test]
fn a_list_row_takes_the_image_closest_to_64_px_from_the_same_images() {
    let row_image = |payload: Value| {
        let answer: CurrentlyPlaying = types::from_json(payload.to_string().as_bytes()).unwrap();
        image_near(Item::images(&answer.item.unwrap()), 64)
    };
    let url = |w: u32| Some(format!("https://i.scdn.co/image/w{w}"));
    let album = |widths: &[u32]| with(track(), |v| v["item"]["album"]["images"] = images(widths));
    assert_eq!(row_image(album(&[640, 300, 64])), url(64));
    assert_eq!(row_image(album(&[640, 300])), url(300));
    assert_eq!(
        row_image(with(episode(), |v| v["item"]["images"] = json!([]))),
        Some("https://i.scdn.co/image/s640".to_owned()),
        "an episode without images: its show's"
    );
    let local = with(album(&[64]), |v| v["item"]["is_local"] = json!(true));
    assert_eq!(row_image(local), None, "no art for a local file");
}

#[test]
fn images_off_spotifys_hosts_or_without_https_are_never_chosen() {
    let list: Vec<Image> = serde_json::from_value(json!([
        {"url": "http://i.scdn.co/image/plain", "width": 300},
        {"url": "https://evil.example/image/x", "width": 300},
        {"url": "https://i.scdn.co.evil.example/x", "width": 300},
        {"url": null, "width": 300},
        {"url": "https://i.scdn.co/image/far", "width": 2000},
    ]))
    .unwrap();
    assert_eq!(
        best_image(&list).as_deref(),
        Some("https://i.scdn.co/image/far")
    );
    assert_eq!(best_image(&list[..4]), None);
}

#[test]
fn an_image_without_a_width_is_chosen_last() {
    let list: Vec<Image> = serde_json::from_value(json!([
        {"url": "https://i.scdn.co/image/unknown", "width": null},
        {"url": "https://mosaic.scdn.co/640/x", "width": 640},
    ]))
    .unwrap();
    assert_eq!(
        best_image(&list).as_deref(),
        Some("https://mosaic.scdn.co/640/x")
    );
    assert_eq!(
        best_image(&list[..1]).as_deref(),
        Some("https://i.scdn.co/image/unknown")
    );
}

#[test]
fn only_https_links_on_spotify_are_kept() {
    for kept in [
        "https://open.spotify.com/track/2VEZx7NWsZ1D0eJ4uv5Fym",
        "https://OPEN.SPOTIFY.COM/track/x",
        "https://spotify.com/",
    ] {
        assert!(is_spotify_page(kept), "{kept}");
    }
    for dropped in [
        "http://open.spotify.com/track/x",
        "javascript:alert(1)",
        "https://evil.example/?u=open.spotify.com",
        "https://open.spotify.com.evil.example/track/x",
        "https://notspotify.com/track/x",
        "https://user@open.spotify.com/track/x",
        "https://open.spotify.com:8443/track/x",
        "//open.spotify.com/track/x",
        "not a url",
    ] {
        assert!(!is_spotify_page(dropped), "{dropped}");
    }
    let item = item_of(&with(track(), |v| {
        v["item"]["external_urls"]["spotify"] = json!("http://open.spotify.com/track/x")
    }));
    assert_eq!(item.url, None);
    let item = item_of(&with(track(), |v| v["item"]["external_urls"] = json!(null)));
    assert_eq!(item.url, None);
}

#[test]
fn image_hosts_are_spotifys_cdns_only() {
    for kept in [
        "https://i.scdn.co/image/x",
        "https://mosaic.scdn.co/640/x",
        "https://image-cdn-ak.spotifycdn.com/image/x",
    ] {
        assert!(is_spotify_image(kept), "{kept}");
    }
    for dropped in [
        "http://i.scdn.co/image/x",
        "https://open.spotify.com/image/x",
        "https://scdn.co.evil.example/x",
        "https://evilscdn.co/x",
        "data:image/png;base64,AAAA",
    ] {
        assert!(!is_spotify_image(dropped), "{dropped}");
    }
}
