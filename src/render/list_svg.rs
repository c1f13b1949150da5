//! The SVG card of a list (recently played, top tracks, top artists): valid for any data,
//! text fitted by display width, cover art inlined under the same rules as the now-playing
//! card.

use askama::Template;
use chrono::{DateTime, Utc};

use super::Rendered;
use super::list_widget::ListWidget;
use super::params::{Background, Layout, WidgetParams};
use super::svg::{GRADIENTS, fit};
use super::widget::{ago, hue};
use crate::spotify::images::Art;

struct RowSvg<'a> {
    y: u32,
    rank: Option<u32>,
    title: String,
    subtitle: String,
    meta: Option<String>,
    art: Option<&'a str>,
    ph: &'static str,
}

#[derive(Template)]
#[template(path = "list.svg", escape = "html")]
struct CardTemplate<'a> {
    width: u32,
    height: u32,
    pad: u32,
    row_height: u32,
    art_size: u32,
    art_x: u32,
    text_x: u32,
    compact: bool,
    theme: &'static str,
    transparent: bool,
    show_art: bool,
    demo: bool,
    summary: String,
    heading: String,
    notice: Option<String>,
    rows: Vec<RowSvg<'a>>,
}

/// The list as an SVG card; `arts[i]` is the inlined art of row `i`, when there is one.
pub(crate) fn card(
    list: &ListWidget,
    params: &WidgetParams,
    arts: &[Art],
    now: DateTime<Utc>,
    demo: bool,
) -> Rendered {
    let compact = params.layout == Layout::Compact;
    let (width, pad, row_height, art_size) = if compact {
        (400, 10, 28, 20)
    } else {
        (440, 12, 48, 36)
    };
    let top = pad + 22;
    let ranked = list.rows.iter().any(|r| r.rank.is_some());
    let art_x = if ranked { pad + 22 } else { pad };
    let text_x = if params.art {
        art_x + art_size + 10
    } else {
        art_x
    };
    let meta_width = if list.rows.iter().any(|r| r.played_at.is_some()) {
        72
    } else {
        0
    };
    // Display columns for `fit`: about 0.55 em per column at 14 px, 0.5 em at 12 px (a CJK
    // glyph of 1 em takes two).
    let title_columns = ((width - text_x - pad - meta_width) * 100 / (14 * 55)) as usize;
    let sub_columns = ((width - text_x - pad - meta_width) * 100 / (12 * 50)) as usize;
    let rows: Vec<RowSvg<'_>> = list
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| RowSvg {
            y: top + i as u32 * row_height,
            rank: row.rank,
            title: fit(&row.title, title_columns),
            subtitle: fit(&row.subtitle, sub_columns),
            meta: row.played_at.map(|at| ago(now, at)),
            art: match arts.get(i) {
                Some(Art::Ready(data)) => Some(&**data),
                _ => None,
            },
            ph: GRADIENTS[usize::from(hue(&row.title)) % GRADIENTS.len()].0,
        })
        .collect();
    let body_rows = if list.notice.is_some() {
        1
    } else {
        list.rows.len().max(1) as u32
    };
    let height = top + body_rows * row_height + pad;
    let summary = match &list.notice {
        Some(notice) => format!("{}: {notice}", list.heading),
        None => {
            let items: Vec<String> = list
                .rows
                .iter()
                .map(|r| {
                    if r.subtitle.is_empty() {
                        r.title.clone()
                    } else {
                        format!("{} by {}", r.title, r.subtitle)
                    }
                })
                .collect();
            format!("{}: {}", list.heading, items.join("; "))
        }
    };
    let body = CardTemplate {
        width,
        height,
        pad,
        row_height,
        art_size,
        art_x,
        text_x,
        compact,
        theme: params.theme_name(),
        transparent: params.bg == Background::Transparent,
        show_art: params.art,
        demo,
        summary,
        heading: fit(&list.heading.to_uppercase(), 48),
        notice: list.notice.as_deref().map(|n| fit(n, 60)),
        rows,
    }
    .render();
    let csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:".to_owned();
    Rendered::ok_or_failed("the list card", "image/svg+xml", body, Some(csp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::list_widget::tests::sample;

    #[test]
    fn the_card_is_valid_xml_with_a_title_naming_the_list() {
        let arts = [
            Art::Ready("data:image/jpeg;base64,AAAA".into()),
            Art::Unavailable,
        ];
        for layout in ["card", "compact"] {
            let params = WidgetParams::from_query(
                &[("layout".to_owned(), layout.to_owned())]
                    .into_iter()
                    .collect(),
            )
            .unwrap();
            let svg = card(&sample(), &params, &arts, Utc::now(), true);
            let text = std::str::from_utf8(&svg.body).unwrap();
            let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            let root = doc.root_element();
            assert_eq!(root.attribute("role"), Some("img"));
            let title = root
                .children()
                .find(|n| n.has_tag_name("title"))
                .and_then(|n| n.text())
                .unwrap();
            assert!(
                title.starts_with("Recently played: </text><script>"),
                "{title}"
            );
            assert!(text.contains("data:image/jpeg;base64,AAAA"));
        }
    }

    #[test]
    fn a_notice_replaces_the_rows() {
        let list = ListWidget {
            rows: Vec::new(),
            notice: Some("Needs the user-top-read scope".into()),
            ..sample()
        };
        let svg = card(&list, &WidgetParams::default(), &[], Utc::now(), false);
        roxmltree::Document::parse(std::str::from_utf8(&svg.body).unwrap()).unwrap();
    }
}
