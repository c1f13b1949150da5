//! `/static/*`: the compiled-in files of [`crate::render::assets`], served with a content
//! hash in their URL so they can be cached for a year.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::render::assets::find;

pub async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = find(&path) else {
        return ApiError::NoSuchStaticFile.into_response();
    };
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    if headers.get(header::IF_NONE_MATCH) == Some(&asset.etag) {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, asset.etag.clone()),
                (header::CACHE_CONTROL, cache),
            ],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::ETAG, asset.etag.clone()),
            (header::CACHE_CONTROL, cache),
        ],
        asset.bytes,
    )
        .into_response()
}
