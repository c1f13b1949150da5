//! Settings: every problem named at once, before binding; secrets never printed.

use now_playing::config::{ServerSettings, Settings, Source, SpotifySettings};

use crate::helpers::*;

#[tokio::test]
async fn missing_credentials_stop_the_program_naming_every_variable() {
    let output = binary(&["serve"], &[("PORT", "0")]).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for var in [
        "SPOTIFY_CLIENT_ID",
        "SPOTIFY_CLIENT_SECRET",
        "SPOTIFY_REFRESH_TOKEN",
    ] {
        assert!(stderr.contains(var), "{var} named in: {stderr}");
    }
    assert!(stderr.contains("3 settings to fix"), "{stderr}");
    assert!(
        !stderr.contains("listening"),
        "stopped before binding: {stderr}"
    );
}

#[tokio::test]
async fn malformed_settings_are_all_reported_together() {
    let settings = Settings {
        server: ServerSettings {
            host: Some("not-an-ip".into()),
            port: Some("99999".into()),
            cache_ttl: Some("0".into()),
            stale_max: Some("forever".into()),
            show_recent: Some("maybe".into()),
            cors_allow_origins: Some("blog.example.com/".into()),
            frame_ancestors: Some("https://a.example; script-src *".into()),
            max_event_clients: Some("-1".into()),
            metrics: Some("sometimes".into()),
            log_format: Some("xml".into()),
            public_url: Some("https://np.example.com/widget".into()),
            trusted_proxies: Some("10.0.0.0/33, proxy.example".into()),
            header_timeout: Some("0".into()),
            max_connections: Some("lots".into()),
            ..ServerSettings::default()
        },
        spotify: SpotifySettings {
            client_id: Some("id".into()),
            client_secret: Some(CLIENT_SECRET.parse().unwrap()),
            refresh_token: Some(REFRESH_TOKEN.parse().unwrap()),
            accounts_url: Some("ftp://accounts.example".into()),
            api_url: Some("not a url".into()),
            refresh_token_obtained_at: Some("last tuesday".into()),
            ..SpotifySettings::default()
        },
    };
    let error = settings.resolve(false).unwrap_err().to_string();
    for var in [
        "HOST",
        "PORT",
        "CACHE_TTL",
        "STALE_MAX",
        "SHOW_RECENT",
        "CORS_ALLOW_ORIGINS",
        "FRAME_ANCESTORS",
        "MAX_EVENT_CLIENTS",
        "METRICS",
        "SPOTIFY_ACCOUNTS_URL",
        "SPOTIFY_API_URL",
        "LOG_FORMAT",
        "SPOTIFY_REFRESH_TOKEN_OBTAINED_AT",
        "PUBLIC_URL",
        "TRUSTED_PROXIES",
        "HEADER_TIMEOUT",
        "MAX_CONNECTIONS",
    ] {
        assert!(
            error.contains(&format!("  - {var}=")),
            "{var} missing from:\n{error}"
        );
    }
    assert!(error.contains("17 settings to fix"), "{error}");
    assert!(!error.contains(CLIENT_SECRET) && !error.contains(REFRESH_TOKEN));
}

#[tokio::test]
async fn good_settings_resolve_to_the_config() {
    let settings = Settings {
        spotify: SpotifySettings {
            client_id: Some("id".into()),
            client_secret: Some(CLIENT_SECRET.parse().unwrap()),
            refresh_token: Some(REFRESH_TOKEN.parse().unwrap()),
            ..SpotifySettings::default()
        },
        server: ServerSettings {
            cache_ttl: Some("30".into()),
            cors_allow_origins: Some(
                "https://a.example, https://B.Example:8443, HTTPS://c.example:443/".into(),
            ),
            public_url: Some("https://NP.example.com:443/".into()),
            trusted_proxies: Some("127.0.0.1, 10.1.2.3/8, ::1".into()),
            header_timeout: Some("3".into()),
            max_connections: Some("500".into()),
            frame_ancestors: Some("'self', https://*.example.com".into()),
            show_recent: Some("false".into()),
            ..ServerSettings::default()
        },
    };
    let config = settings.resolve(false).unwrap();
    assert_eq!(config.cache_ttl.as_secs(), 30);
    assert!(!config.show_recent);
    assert_eq!(config.frame_ancestors, "'self' https://*.example.com");
    assert_eq!(
        config.cors_allow_origins,
        now_playing::config::AllowedOrigins::List(vec![
            "https://a.example".into(),
            "https://b.example:8443".into(),
            "https://c.example".into()
        ])
    );
    assert_eq!(
        config.public_url.map(|u| u.to_string()).as_deref(),
        Some("https://np.example.com/")
    );
    let proxies: Vec<String> = config
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(proxies, ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
    assert_eq!(config.header_timeout.as_secs(), 3);
    assert_eq!(config.max_connections, 500);
    assert!(matches!(config.source, Source::Spotify(_)));
}

#[tokio::test]
async fn public_url_must_be_an_origin() {
    for bad in [
        "https://np.example.com/widget",
        "https://np.example.com/?x=1",
        "https://np.example.com/#top",
    ] {
        let settings = Settings {
            server: ServerSettings {
                public_url: Some(bad.into()),
                ..ServerSettings::default()
            },
            ..Settings::default()
        };
        let error = settings.resolve(true).unwrap_err().to_string();
        assert!(error.contains("PUBLIC_URL="), "{bad}: {error}");
        assert!(error.contains("no path, query or fragment"), "{error}");
    }
}

#[tokio::test]
async fn admin_token_without_a_token_file_is_refused_naming_token_file() {
    let mut settings = Settings {
        spotify: SpotifySettings {
            client_id: Some("id".into()),
            client_secret: Some(CLIENT_SECRET.parse().unwrap()),
            refresh_token: Some(REFRESH_TOKEN.parse().unwrap()),
            ..SpotifySettings::default()
        },
        server: ServerSettings {
            admin_token: Some(ADMIN_TOKEN.parse().unwrap()),
            public_url: Some("https://np.example.com".into()),
            ..ServerSettings::default()
        },
    };
    let error = settings.resolve(false).unwrap_err().to_string();
    assert!(error.contains("TOKEN_FILE is missing"), "{error}");
    assert!(error.contains("survive a restart"), "{error}");
    assert!(!error.contains(ADMIN_TOKEN), "{error}");

    settings.spotify.token_file = Some(scratch_dir("admin-token-file").join("token.json"));
    let config = settings.resolve(false).unwrap();
    assert!(config.admin.is_some());
}

#[tokio::test]
async fn debug_output_of_settings_and_config_never_shows_a_secret() {
    let settings = Settings {
        spotify: SpotifySettings {
            client_id: Some("id".into()),
            client_secret: Some(CLIENT_SECRET.parse().unwrap()),
            refresh_token: Some(REFRESH_TOKEN.parse().unwrap()),
            token_file: Some(scratch_dir("debug-settings").join("token.json")),
            ..SpotifySettings::default()
        },
        server: ServerSettings {
            admin_token: Some("an-admin-token-of-some-length".parse().unwrap()),
            public_url: Some("https://np.example.com".into()),
            ..ServerSettings::default()
        },
    };
    let config = settings.resolve(false).unwrap();
    for text in [
        format!("{settings:?}"),
        format!("{config:?}"),
        format!("{config:#?}"),
    ] {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(
            text.contains("REDACTED") || text.contains("[redacted]"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn flags_win_over_the_environment() {
    let mut command = binary(
        &[
            "serve",
            "--demo",
            "--cache-ttl",
            "20",
            "--stale-max",
            "60",
            "--port",
            "0",
        ],
        &[
            ("CACHE_TTL", "not a number"),
            ("STALE_MAX", "abc"),
            ("LOG_FORMAT", "json"),
        ],
    );
    let mut child = command.spawn().unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    use tokio::io::AsyncBufReadExt;
    while stderr.read_line(&mut line).await.unwrap() > 0 && !line.contains("listening") {}
    assert!(
        line.contains("listening"),
        "started with the flags' values: {line}"
    );
    child.kill().await.unwrap();
    unreachable_if_started_without_flags().await;
}

/// Without the flags the same environment is refused, so the start above was the flags' doing.
async fn unreachable_if_started_without_flags() {
    let output = binary(
        &["serve", "--demo"],
        &[("CACHE_TTL", "not a number"), ("PORT", "0")],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test]
async fn a_dotenv_file_in_the_working_directory_is_read() {
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dotenv-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env"), "# a comment\nCACHE_TTL=9999\n").unwrap();
    let output = binary_in(&dir, &["serve", "--demo"], &[("PORT", "0")])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("CACHE_TTL=\"9999\""), "{stderr}");
}
