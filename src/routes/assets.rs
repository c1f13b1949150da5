//! `/static/*`: the compiled-in files of [`crate::render::assets`], served with a content
//! hash in their URL so they can be cached for a year.

use axum::extract::Path;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use super::{ApiError, Caller, respond};
use crate::render::assets::find;

pub(crate) async fn serve(Path(path): Path<String>, caller: Caller) -> Response {
    let Some(asset) = find(&path) else {
        return ApiError::NoSuchStaticFile.into_response();
    };
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    respond(&caller, &asset.rendered, cache)
}
