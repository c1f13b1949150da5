//! The widget query parameters of `/embed`, `/now-playing.html` and `/now-playing.svg`.
//! Unknown parameters are ignored (cache busters); a bad value of a known one is an error
//! naming the parameter and its allowed values.

use std::collections::HashMap;

use crate::config::parse_bool;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WidgetParams {
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
pub enum Theme {
    Auto,
    Light,
    Dark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    Card,
    Compact,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Background {
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
pub struct BadParam {
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
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, BadParam> {
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

    pub fn theme_name(&self) -> &'static str {
        match self.theme {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn layout_name(&self) -> &'static str {
        match self.layout {
            Layout::Card => "card",
            Layout::Compact => "compact",
        }
    }

    pub fn bg_name(&self) -> &'static str {
        match self.bg {
            Background::Theme => "theme",
            Background::Transparent => "transparent",
        }
    }
}
