//! `now-playing check`: refreshes the token and asks Spotify once, then says plainly what
//! works, what does not and the command that fixes it. Exit 0 only when all is well.

use std::process::ExitCode;

use chrono::Utc;

use crate::cli::CheckArgs;
use crate::clock::Clock;
use crate::config::Source;
use crate::now_playing::NowPlaying;
use crate::now_playing::lists::{ListId, TopKind, TopRange};
use crate::spotify::lifetime::EXPIRY_WARNING;
use crate::spotify::token_store::FileState;
use crate::spotify::{SpotifyClient, SpotifyError};

pub async fn run(args: CheckArgs) -> ExitCode {
    let config = match args.settings.resolve(false) {
        Ok(config) => config,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    let Source::Spotify(spotify) = &config.source else {
        return ExitCode::from(2);
    };
    println!("now-playing check");
    // Without CA certificates no client can be built at all: say so instead of panicking.
    if let Err(e) = crate::spotify::try_http_client() {
        println!("  ✗ TLS: {e}");
        return ExitCode::FAILURE;
    }
    let client = SpotifyClient::new(spotify, Clock::system(), crate::metrics::Metrics::new());
    let mut ok = true;

    match client.tokens().access_token().await {
        Ok(_) => {
            println!("  ✓ credentials: Spotify accepted the client id, secret and refresh token")
        }
        Err(SpotifyError::Auth(failure)) => {
            println!("  ✗ credentials: {}", failure.code());
            println!("    fix: {}", failure.advice());
            return ExitCode::FAILURE;
        }
        Err(e) => {
            println!("  ✗ credentials: could not be checked: {e}");
            match e.unreachable() {
                Some(u) => println!("    fix: {}", u.cause.advice("SPOTIFY_ACCOUNTS_URL")),
                None => println!(
                    "    fix: check SPOTIFY_ACCOUNTS_URL and this machine's network, then try again"
                ),
            }
            return ExitCode::FAILURE;
        }
    }

    let scope = client.tokens().scope().unwrap_or_default();
    let has = |s: &str| scope.split_whitespace().any(|granted| granted == s);
    if !has("user-read-currently-playing") {
        ok = false;
        println!("  ✗ scopes: {scope:?} lacks user-read-currently-playing");
        println!("    fix: run `now-playing auth --write-env .env` (it asks for the right scopes)");
    } else if !has("user-read-recently-played") {
        ok &= !config.show_recent;
        println!(
            "  ! scopes: {scope} (no user-read-recently-played: the last played track cannot be shown)"
        );
        println!("    fix: run `now-playing auth --write-env .env`, or set SHOW_RECENT=false");
    } else {
        println!("  ✓ scopes: {scope}");
    }

    for line in lists_allowed(&scope) {
        println!("{line}");
    }

    match client.currently_playing().await {
        Ok(answer) => match answer.and_then(|a| NowPlaying::from_spotify(a, Utc::now())) {
            Some(doc) => match &doc.item {
                Some(item) => println!(
                    "  ✓ Spotify answered: {} \"{}\" by {}",
                    if doc.is_playing {
                        "playing"
                    } else {
                        "paused on"
                    },
                    item.title,
                    item.artist_line()
                ),
                None => println!(
                    "  ✓ Spotify answered: playing something it does not describe (an ad?)"
                ),
            },
            None => println!("  ✓ Spotify answered: nothing is playing right now"),
        },
        Err(e) => {
            ok = false;
            println!("  ✗ Spotify's currently-playing failed: {e}");
            if let Some(u) = e.unreachable() {
                println!("    fix: {}", u.cause.advice("SPOTIFY_API_URL"));
            }
            if matches!(e, SpotifyError::Forbidden) {
                println!(
                    "    fix: in development mode, add your Spotify account under the app's User Management, and note that Spotify requires the app owner to have Premium"
                );
            }
        }
    }

    match client.tokens().expires_at() {
        Some(expires) => {
            let left = expires - Utc::now();
            let date = expires.format("%Y-%m-%d");
            if left <= EXPIRY_WARNING {
                println!(
                    "  ! refresh token: expires {date} (in {} days)",
                    left.num_days().max(0)
                );
                println!("    fix: run `now-playing auth --write-env .env` before then");
            } else {
                println!(
                    "  ✓ refresh token: expires {date} (in {} days)",
                    left.num_days()
                );
            }
        }
        None => println!(
            "  ? refresh token: expiry unknown (set SPOTIFY_REFRESH_TOKEN_OBTAINED_AT; `now-playing auth` writes it)"
        ),
    }

    // Without TOKEN_FILE, or when it cannot be written, nothing else keeps a token Spotify
    // replaced during this check.
    let unsaved = client.tokens().token_file() == Some(FileState::Unsaved);
    if let Some(token) = client.tokens().rotated_refresh_token().await
        && (spotify.token_file.is_none() || unsaved)
    {
        ok = false;
        println!(
            "  ✗ Spotify replaced the refresh token during this check; the old one may no longer work."
        );
        if unsaved {
            println!(
                "    fix: TOKEN_FILE could not be written; make it writable and run `now-playing auth --token-file`, or unset TOKEN_FILE and put this line in your .env:"
            );
        } else {
            println!(
                "    fix: put this line in your .env (or set TOKEN_FILE, which keeps new tokens itself):"
            );
        }
        println!(
            "    SPOTIFY_REFRESH_TOKEN={}",
            secrecy::ExposeSecret::expose_secret(&token)
        );
    }

    if ok {
        println!("All good.");
        ExitCode::SUCCESS
    } else {
        println!("Not ready: fix what is marked ✗ above.");
        ExitCode::FAILURE
    }
}

/// Which lists (recently played, top tracks and artists) the granted `scope` allows, and what the
/// others need. A missing list scope is a warning, not a failure: the lists are optional pages, and
/// the footer works without them.
fn lists_allowed(scope: &str) -> Vec<String> {
    let granted = |s: &str| scope.split_whitespace().any(|g| g == s);
    let lists = [
        ListId::RecentlyPlayed,
        ListId::Top(TopKind::Tracks, TopRange::Short),
        ListId::Top(TopKind::Artists, TopRange::Short),
    ];
    let (allowed, missing): (Vec<ListId>, Vec<ListId>) =
        lists.iter().partition(|id| granted(id.scope()));
    let names = |ids: &[ListId], separator: &str| {
        ids.iter()
            .map(|id| id.name())
            .collect::<Vec<_>>()
            .join(separator)
    };
    if missing.is_empty() {
        return vec![format!("  ✓ lists: {}", names(&allowed, ", "))];
    }
    let mut needs: Vec<String> = Vec::new();
    for scope in ["user-read-recently-played", "user-top-read"] {
        let lacking: Vec<ListId> = missing
            .iter()
            .copied()
            .filter(|id| id.scope() == scope)
            .collect();
        match lacking.len() {
            0 => {}
            1 => needs.push(format!("{} needs {scope}", names(&lacking, ""))),
            _ => needs.push(format!("{} need {scope}", names(&lacking, " and "))),
        }
    }
    let allowed = if allowed.is_empty() {
        "none".to_owned()
    } else {
        names(&allowed, ", ")
    };
    vec![
        format!("  ! lists: {allowed} ({})", needs.join("; ")),
        "    fix: run `now-playing auth --write-env .env` (it asks for every scope)".to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::lists_allowed;

    #[test]
    fn lists_follow_the_granted_scopes() {
        assert_eq!(
            lists_allowed("user-read-currently-playing user-read-recently-played user-top-read"),
            ["  ✓ lists: recently played, top tracks, top artists"]
        );
        assert_eq!(
            lists_allowed("user-read-currently-playing user-read-recently-played")[0],
            "  ! lists: recently played (top tracks and top artists need user-top-read)"
        );
        assert_eq!(
            lists_allowed("user-read-currently-playing")[0],
            "  ! lists: none (recently played needs user-read-recently-played; top tracks and top artists need user-top-read)"
        );
    }
}
