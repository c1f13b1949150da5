//! Spotify's own hosts: the only places a link or a cover image may point to.

use reqwest::Url;

/// The lower-case host of a plain `https` URL: no credentials, no explicit port.
fn https_host(url: &str) -> Option<String> {
    let url = Url::parse(url).ok()?;
    let plain = url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none();
    plain
        .then(|| url.host_str().map(str::to_ascii_lowercase))
        .flatten()
}

fn on_domain(host: &str, domain: &str) -> bool {
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// An `https` page on Spotify's own site (`open.spotify.com` and friends).
pub(crate) fn is_spotify_page(url: &str) -> bool {
    https_host(url).is_some_and(|h| on_domain(&h, "spotify.com"))
}

/// An `https` URL on Spotify's image hosts (`i.scdn.co`, `*.spotifycdn.com`, ...).
pub(crate) fn is_spotify_image(url: &str) -> bool {
    https_host(url).is_some_and(|h| on_domain(&h, "scdn.co") || on_domain(&h, "spotifycdn.com"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_https_on_spotify_com_only() {
        assert!(is_spotify_page("https://open.spotify.com/track/1"));
        assert!(is_spotify_page("https://spotify.com/"));
        assert!(!is_spotify_page("http://open.spotify.com/track/1"));
        assert!(!is_spotify_page("https://open.spotify.com.evil.example/"));
        assert!(!is_spotify_page("https://evilspotify.com/"));
        assert!(!is_spotify_page("https://user@open.spotify.com/"));
        assert!(!is_spotify_page("https://open.spotify.com:8443/"));
        assert!(!is_spotify_page("javascript:alert(1)"));
    }

    #[test]
    fn images_are_https_on_the_image_hosts_only() {
        assert!(is_spotify_image("https://i.scdn.co/image/ab67"));
        assert!(is_spotify_image(
            "https://image-cdn-ak.spotifycdn.com/image/ab67"
        ));
        assert!(is_spotify_image("https://I.SCDN.CO/image/x"));
        assert!(!is_spotify_image("http://i.scdn.co/image/ab67"));
        assert!(!is_spotify_image("https://open.spotify.com/image"));
        assert!(!is_spotify_image("https://scdn.co.evil.example/x"));
        assert!(!is_spotify_image("data:image/png;base64,AAAA"));
    }
}
