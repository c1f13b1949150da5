//! The list parameters, `limit` and `range`, for every form of a list. The widget
//! parameters (README: Widget parameters) are read beside them by [`super::params`]. Unknown
//! parameters are ignored; a bad value of a known one is an error naming it and its
//! allowed values.

use std::collections::HashMap;

use super::params::BadParam;
use crate::now_playing::lists::TopRange;

/// The largest `limit`: what one Spotify page holds.
pub(crate) const MAX_LIMIT: usize = 50;

/// Which form of a list is asked for: it decides the default `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ListForm {
    /// `/recently-played`, `/top/tracks`, `/top/artists`: 10 entries unless told.
    Json,
    /// The `.html` fragment, the `.svg` card and the `/embed/...` page: 5 unless told.
    Widget,
}

impl ListForm {
    pub(crate) fn default_limit(self) -> usize {
        match self {
            Self::Json => 10,
            Self::Widget => 5,
        }
    }
}

/// `limit` and `range` of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ListParams {
    /// 1 to [`MAX_LIMIT`].
    pub limit: usize,
    /// `short` unless told; read only by top lists.
    pub range: TopRange,
}

impl ListParams {
    /// The parameters of a top list: `limit` (default per `form`) and `range`.
    pub(crate) fn top(query: &HashMap<String, String>, form: ListForm) -> Result<Self, BadParam> {
        Ok(Self {
            limit: limit(query, form)?,
            range: range(query)?,
        })
    }

    /// The parameters of the recently played list: `limit` only (`range` is ignored there).
    pub(crate) fn recent(
        query: &HashMap<String, String>,
        form: ListForm,
    ) -> Result<Self, BadParam> {
        Ok(Self {
            limit: limit(query, form)?,
            range: TopRange::Short,
        })
    }
}

fn limit(query: &HashMap<String, String>, form: ListForm) -> Result<usize, BadParam> {
    match query.get("limit").map(|v| v.trim()) {
        None => Ok(form.default_limit()),
        Some(value) => value
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or(BadParam {
                name: "limit",
                allowed: "a whole number from 1 to 50",
            }),
    }
}

fn range(query: &HashMap<String, String>) -> Result<TopRange, BadParam> {
    match query.get("range").map(|v| v.trim()) {
        None => Ok(TopRange::Short),
        Some(value) => TopRange::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(value))
            .ok_or(BadParam {
                name: "range",
                allowed: "short (about 4 weeks), medium (6 months), long (about a year)",
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::params::tests::query;

    #[test]
    fn defaults_depend_on_the_form() {
        let none = query(&[]);
        assert_eq!(
            ListParams::top(&none, ListForm::Json).unwrap(),
            ListParams {
                limit: 10,
                range: TopRange::Short
            }
        );
        assert_eq!(ListParams::top(&none, ListForm::Widget).unwrap().limit, 5);
    }

    #[test]
    fn limit_and_range_are_read_and_checked() {
        let ok = query(&[("limit", "50"), ("range", "Long"), ("theme", "dark")]);
        assert_eq!(
            ListParams::top(&ok, ListForm::Json).unwrap(),
            ListParams {
                limit: 50,
                range: TopRange::Long
            }
        );
        for bad in ["0", "51", "x", "", "-1", "2.5"] {
            let error = ListParams::top(&query(&[("limit", bad)]), ListForm::Json).unwrap_err();
            assert_eq!(error.name, "limit", "{bad:?}");
        }
        let error = ListParams::top(&query(&[("range", "week")]), ListForm::Json).unwrap_err();
        assert_eq!(error.name, "range");
        assert!(error.to_string().contains("short"), "{error}");
        assert!(ListParams::recent(&query(&[("range", "week")]), ListForm::Json).is_ok());
    }

    #[test]
    fn limit_bounds_are_inclusive_and_spaces_are_trimmed() {
        for (value, want) in [("1", 1), ("50", 50), (" 7 ", 7)] {
            let params = ListParams::recent(&query(&[("limit", value)]), ListForm::Widget);
            assert_eq!(params.unwrap().limit, want, "{value:?}");
        }
    }

    #[test]
    fn every_range_is_read_by_its_name() {
        for (value, want) in [
            ("short", TopRange::Short),
            ("medium", TopRange::Medium),
            ("LONG", TopRange::Long),
            (" medium ", TopRange::Medium),
        ] {
            let params = ListParams::top(&query(&[("range", value)]), ListForm::Widget);
            assert_eq!(params.unwrap().range, want, "{value:?}");
        }
        for bad in ["short_term", "", "year"] {
            let error = ListParams::top(&query(&[("range", bad)]), ListForm::Json).unwrap_err();
            assert_eq!(error.name, "range", "{bad:?}");
        }
    }

    #[test]
    fn the_recently_played_list_checks_its_limit_and_defaults_per_form() {
        assert_eq!(
            ListParams::recent(&query(&[]), ListForm::Widget).unwrap(),
            ListParams {
                limit: 5,
                range: TopRange::Short
            }
        );
        assert_eq!(
            ListParams::recent(&query(&[]), ListForm::Json)
                .unwrap()
                .limit,
            10
        );
        let error = ListParams::recent(&query(&[("limit", "51")]), ListForm::Json).unwrap_err();
        assert_eq!(error.name, "limit");
    }
}
