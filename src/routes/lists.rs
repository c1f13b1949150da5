//! `/recently-played`, `/top/tracks` and `/top/artists`: the lists as JSON (README: Beyond this
//! minute), from the shared list caches, with the list's own `Cache-Control`, a strong `ETag`, and
//! CORS like `/now-playing`; and as widgets: the `.html` fragment, the `.svg` card and the
//! `/embed/...` page, always 200 (a neutral card when the list cannot be had).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use tokio::time::Instant;

use super::svg::{DEADLINE, STATE_WAIT};
use super::{Caller, Widget, respond};
use crate::now_playing::lists::{ListErrorCode, ListId, ListSnapshot, ListView, TopKind};
use crate::render::html::PageContext;
use crate::render::list_params::{ListForm, ListParams};
use crate::render::list_svg;
use crate::render::list_widget::{self, ListWidget};
use crate::render::lists::{ListRenderKey, ListSurface};
use crate::render::params::BadParam;
use crate::render::{Rendered, WidgetParams};
use crate::spotify::images::{Art, IMAGE_TIMEOUT};
use crate::state::AppState;

type RawQuery = Query<HashMap<String, String>>;

/// `{"kind":"recently-played","items":[..],..}`, newest first; `?limit=1..50` (default 10).
pub(crate) async fn recently_played(
    state: State<AppState>,
    query: RawQuery,
    caller: Caller,
) -> Response {
    let response = match ListParams::recent(&query, ListForm::Json) {
        Ok(params) => json(&state, &caller, ListId::RecentlyPlayed, params.limit).await,
        Err(bad) => bad.into_response(),
    };
    with_cors(&caller, response)
}

/// `{"kind":"top-tracks","range":..,"items":[..],..}`; `?range=short|medium|long&limit=1..50`.
pub(crate) async fn top_tracks(
    state: State<AppState>,
    query: RawQuery,
    caller: Caller,
) -> Response {
    top(state, query, caller, TopKind::Tracks).await
}

/// `{"kind":"top-artists","range":..,"items":[..],..}`; `?range=short|medium|long&limit=1..50`.
pub(crate) async fn top_artists(
    state: State<AppState>,
    query: RawQuery,
    caller: Caller,
) -> Response {
    top(state, query, caller, TopKind::Artists).await
}

async fn top(state: State<AppState>, query: RawQuery, caller: Caller, kind: TopKind) -> Response {
    let response = match ListParams::top(&query, ListForm::Json) {
        Ok(params) => {
            json(
                &state,
                &caller,
                ListId::Top(kind, params.range),
                params.limit,
            )
            .await
        }
        Err(bad) => bad.into_response(),
    };
    with_cors(&caller, response)
}

/// The memoised JSON of the list's current state, or `304`; a 503 when there is no list,
/// with `Retry-After` when Spotify asked for one.
async fn json(state: &State<AppState>, caller: &Caller, id: ListId, limit: usize) -> Response {
    let lists = state.service.lists();
    let snapshot = lists.current(id).await;
    let rendered = state.list_renders.json(&snapshot, limit);
    let mut response = respond(
        caller,
        &rendered,
        state.list_renders.cache_control(id).clone(),
    );
    if let ListView::Unavailable(why) = &snapshot.view
        && why.code == ListErrorCode::RateLimited
    {
        let secs = snapshot.retry_after_secs(lists.clock().now());
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn with_cors(caller: &Caller, mut response: Response) -> Response {
    caller.allow(response.headers_mut());
    response
}

/// The list a widget route shows, from its path and query.
fn widget_list(
    kind: Option<TopKind>,
    query: &HashMap<String, String>,
) -> Result<(ListId, usize), BadParam> {
    let params = match kind {
        None => ListParams::recent(query, ListForm::Widget),
        Some(_) => ListParams::top(query, ListForm::Widget),
    }?;
    let id = match kind {
        None => ListId::RecentlyPlayed,
        Some(kind) => ListId::Top(kind, params.range),
    };
    Ok((id, params.limit))
}

/// The list's JSON address with the same `range` and `limit`, for the embed page to refresh from.
fn source(id: ListId, limit: usize) -> String {
    match id {
        ListId::RecentlyPlayed => format!("/recently-played?limit={limit}"),
        ListId::Top(kind, range) => format!(
            "/top/{}?range={}&limit={limit}",
            match kind {
                TopKind::Tracks => "tracks",
                TopKind::Artists => "artists",
            },
            range.name()
        ),
    }
}

macro_rules! widget_routes {
    ($($name:ident: $kind:expr, $surface:expr;)*) => {$(
        pub(crate) async fn $name(
            state: State<AppState>,
            Widget(params): Widget,
            query: RawQuery,
            caller: Caller,
        ) -> Response {
            match widget_list($kind, &query) {
                Ok((id, limit)) => widget(&state, &caller, id, limit, params, $surface).await,
                Err(bad) => bad.into_response(),
            }
        }
    )*};
}

widget_routes! {
    recently_played_html: None, ListSurface::Fragment;
    recently_played_svg: None, ListSurface::Svg;
    recently_played_embed: None, ListSurface::Embed;
    top_tracks_html: Some(TopKind::Tracks), ListSurface::Fragment;
    top_tracks_svg: Some(TopKind::Tracks), ListSurface::Svg;
    top_tracks_embed: Some(TopKind::Tracks), ListSurface::Embed;
    top_artists_html: Some(TopKind::Artists), ListSurface::Fragment;
    top_artists_svg: Some(TopKind::Artists), ListSurface::Svg;
    top_artists_embed: Some(TopKind::Artists), ListSurface::Embed;
}

/// A list widget, memoised per list state, `limit` and widget parameters. The SVG card waits
/// for the list and its art within the same bounds as the now-playing card.
async fn widget(
    state: &State<AppState>,
    caller: &Caller,
    id: ListId,
    limit: usize,
    params: WidgetParams,
    surface: ListSurface,
) -> Response {
    let started = Instant::now();
    let lists = state.service.lists();
    let snapshot = match surface {
        ListSurface::Svg => match tokio::time::timeout(STATE_WAIT, lists.current(id)).await {
            Ok(snapshot) => snapshot,
            Err(_) => lists.latest(id),
        },
        _ => lists.current(id).await,
    };
    let key = ListRenderKey {
        surface,
        limit,
        params: Some(params.clone()),
    };
    let rendered = match state.list_renders.get(&snapshot, &key) {
        Some(rendered) => rendered,
        None => {
            let view = ListWidget::new(&snapshot, limit);
            let ctx = PageContext {
                now: lists.clock().utc(),
                demo: lists.is_demo(),
                ttl: lists.ttl(id),
                frame_ancestors: &state.config.frame_ancestors,
            };
            match surface {
                ListSurface::Svg => card(state, &snapshot, &view, key, &params, started).await,
                ListSurface::Embed => state.list_renders.get_or_render(&snapshot, key, || {
                    list_widget::embed(&view, &params, &ctx, &source(id, limit))
                }),
                ListSurface::Fragment | ListSurface::Json => {
                    state.list_renders.get_or_render(&snapshot, key, || {
                        list_widget::fragment(&view, &params, &ctx)
                    })
                }
            }
        }
    };
    // A list keeps its own TTL; a neutral card for a list that cannot be had is not kept.
    let cache_control = match &snapshot.view {
        ListView::Ok(_) => state.list_renders.cache_control(id).clone(),
        ListView::Unavailable(_) => HeaderValue::from_static("no-cache"),
    };
    let mut response = respond(caller, &rendered, cache_control);
    if surface == ListSurface::Fragment {
        caller.allow(response.headers_mut());
    }
    response
}

/// The SVG card with each row's art inlined, fetched in parallel within the card's deadline;
/// a card drawn while some art is still on the way is not kept.
async fn card(
    state: &State<AppState>,
    snapshot: &ListSnapshot,
    view: &ListWidget,
    key: ListRenderKey,
    params: &WidgetParams,
    started: Instant,
) -> std::sync::Arc<Rendered> {
    let wait = DEADLINE
        .saturating_sub(started.elapsed())
        .min(IMAGE_TIMEOUT);
    let arts: Vec<Art> = futures_util::future::join_all(view.rows.iter().map(|row| async {
        match row.image_url.as_deref().filter(|_| params.art) {
            Some(url) => state.images.get(url, wait).await,
            None => Art::Unavailable,
        }
    }))
    .await;
    let lists = state.service.lists();
    let render = || list_svg::card(view, params, &arts, lists.clock().utc(), lists.is_demo());
    if arts.iter().any(|art| matches!(art, Art::Pending)) {
        std::sync::Arc::new(render())
    } else {
        state.list_renders.get_or_render(snapshot, key, render)
    }
}
