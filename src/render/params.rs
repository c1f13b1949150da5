//! The widget query parameters of `/embed`, `/now-playing.html` and `/now-playing.svg`.
//! Unknown parameters are ignored (cache busters); a bad value of a known one is an error
//! naming the parameter and its allowed values.

use std::collections::HashMap;

use crate::config::parse_bool;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct WidgetParams {
    pub theme: Theme,
    pub layout: Layout,
    pub art: bool,
    pub progress: bool,
    pub recent: bool,
    /// `RRGGBB`, lower case.
    pub accent: Option<String>,
    pub bg: Background,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Theme {
    Auto,
    Light,
    Dark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Layout {
    Card,
    Compact,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Background {
    Theme,
    Transparent,
}

impl Default for WidgetParams {
    fn default() -> Self {
        Self {
            theme: Theme::Auto,
            layout: Layout::Card,
            art: true,
            progress: true,
            recent: true,
            accent: None,
            bg: Background::Theme,
        }
    }
}

/// A bad widget parameter: which one and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadParam {
    pub name: &'static str,
    pub allowed: &'static str,
}

impl std::fmt::Display for BadParam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid value for `{}`: allowed values are {}",
            self.name, self.allowed
        )
    }
}

fn choose<T: Copy>(
    name: &'static str,
    allowed: &'static str,
    value: &str,
    options: &[(&str, T)],
) -> Result<T, BadParam> {
    options
        .iter()
        .find(|(text, _)| text.eq_ignore_ascii_case(value))
        .map(|(_, v)| *v)
        .ok_or(BadParam { name, allowed })
}

impl WidgetParams {
    pub(crate) fn from_query(query: &HashMap<String, String>) -> Result<Self, BadParam> {
        let mut p = Self::default();
        for (key, value) in query {
            let value = value.trim();
            match key.as_str() {
                "theme" => {
                    p.theme = choose(
                        "theme",
                        "auto, light, dark",
                        value,
                        &[
                            ("auto", Theme::Auto),
                            ("light", Theme::Light),
                            ("dark", Theme::Dark),
                        ],
                    )?
                }
                "layout" => {
                    p.layout = choose(
                        "layout",
                        "card, compact",
                        value,
                        &[("card", Layout::Card), ("compact", Layout::Compact)],
                    )?
                }
                "bg" => {
                    p.bg = choose(
                        "bg",
                        "transparent, theme",
                        value,
                        &[
                            ("transparent", Background::Transparent),
                            ("theme", Background::Theme),
                        ],
                    )?
                }
                "art" => {
                    p.art = parse_bool(value).ok_or(BadParam {
                        name: "art",
                        allowed: "true, false",
                    })?
                }
                "progress" => {
                    p.progress = parse_bool(value).ok_or(BadParam {
                        name: "progress",
                        allowed: "true, false",
                    })?
                }
                "recent" => {
                    p.recent = parse_bool(value).ok_or(BadParam {
                        name: "recent",
                        allowed: "true, false",
                    })?
                }
                "accent" => {
                    let hex = value.strip_prefix('#').unwrap_or(value);
                    let valid = hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit());
                    if !valid {
                        return Err(BadParam {
                            name: "accent",
                            allowed: "a hex colour RRGGBB, such as 1db954",
                        });
                    }
                    p.accent = Some(hex.to_ascii_lowercase());
                }
                _ => {}
            }
        }
        Ok(p)
    }

    pub(crate) fn theme_name(&self) -> &'static str {
        match self.theme {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub(crate) fn layout_name(&self) -> &'static str {
        match self.layout {
            Layout::Card => "card",
            Layout::Compact => "compact",
        }
    }

    pub(crate) fn bg_name(&self) -> &'static str {
        match self.bg {
            Background::Theme => "theme",
            Background::Transparent => "transparent",
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A query string's pairs as the routes hand them over.
    pub(crate) fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<WidgetParams, BadParam> {
        WidgetParams::from_query(&query(pairs))
    }

    #[test]
    fn no_parameters_give_the_defaults() {
        assert_eq!(parse(&[]).unwrap(), WidgetParams::default());
        let d = WidgetParams::default();
        assert_eq!(
            (d.theme, d.layout, d.bg),
            (Theme::Auto, Layout::Card, Background::Theme)
        );
        assert!(d.art && d.progress && d.recent && d.accent.is_none());
    }

    #[test]
    fn every_parameter_is_read() {
        let p = parse(&[
            ("theme", "dark"),
            ("layout", "compact"),
            ("art", "false"),
            ("progress", "0"),
            ("recent", "no"),
            ("accent", "#1DB954"),
            ("bg", "transparent"),
        ])
        .unwrap();
        assert_eq!(
            p,
            WidgetParams {
                theme: Theme::Dark,
                layout: Layout::Compact,
                art: false,
                progress: false,
                recent: false,
                accent: Some("1db954".into()),
                bg: Background::Transparent,
            }
        );
        assert_eq!(
            (p.theme_name(), p.layout_name(), p.bg_name()),
            ("dark", "compact", "transparent")
        );
    }

    #[test]
    fn values_are_trimmed_and_case_insensitive() {
        let p = parse(&[
            ("theme", " Light "),
            ("layout", "CARD"),
            ("art", "On"),
            ("bg", "Theme"),
            ("accent", " ff9800 "),
        ])
        .unwrap();
        assert_eq!(p.theme, Theme::Light);
        assert_eq!(p.layout, Layout::Card);
        assert!(p.art);
        assert_eq!(p.bg, Background::Theme);
        assert_eq!(p.accent.as_deref(), Some("ff9800"));
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        let p = parse(&[("v", "123"), ("utm_source", "blog"), ("Theme", "neon")]).unwrap();
        assert_eq!(p, WidgetParams::default());
    }

    #[test]
    fn each_bad_value_names_its_parameter() {
        for (name, bad) in [
            ("theme", "neon"),
            ("theme", ""),
            ("layout", "grid"),
            ("bg", "red"),
            ("art", "maybe"),
            ("progress", "2"),
            ("recent", "yes please"),
            ("accent", "1db95"),
            ("accent", "1db9544"),
            ("accent", "zzzzzz"),
            ("accent", "##1db954"),
            ("accent", "1db 95"),
            ("accent", "red"),
        ] {
            let error = parse(&[("theme", "dark"), (name, bad)]).unwrap_err();
            assert_eq!(error.name, name, "{name}={bad:?}");
        }
    }

    #[test]
    fn the_error_says_what_is_allowed() {
        let error = parse(&[("theme", "neon")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid value for `theme`: allowed values are auto, light, dark"
        );
        let error = parse(&[("accent", "red")]).unwrap_err();
        assert!(error.to_string().contains("RRGGBB"), "{error}");
    }
}
