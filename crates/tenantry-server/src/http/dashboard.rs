//! The owner dashboard at `/owner`: static HTML, CSS and JavaScript modules embedded in the binary
//! (no CDN, no external font, works offline). The page talks only to the admin API of this server.
//!
//! Every answer carries a strict Content-Security-Policy (scripts and styles from this origin only,
//! no inline script, no framing) and an `ETag`; `Cache-Control: no-cache` makes browsers revalidate,
//! so an upgraded binary never runs with stale assets, while an unchanged asset costs a 304.

use super::openapi::ErrorBody;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;

/// The dashboard's files, embedded at compile time (also in debug builds: `debug-embed`).
#[derive(RustEmbed)]
#[folder = "assets/owner/"]
struct Assets;

/// Scripts, styles, images and API calls from this origin only; nothing inline, no plugins, no
/// framing, no form posts elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/owner", get(index))
        .route("/owner/", get(index))
        .route("/owner/{*path}", get(asset))
}

#[utoipa::path(get, path = "/owner", tag = "dashboard", responses((status = 200, content_type = "text/html")))]
async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `/owner/` answers as `/owner` (documented apart: one path per operation).
#[utoipa::path(get, path = "/owner/", tag = "dashboard", responses((status = 200, content_type = "text/html")))]
#[allow(dead_code)]
pub(super) fn index_slash() {}

#[utoipa::path(get, path = "/owner/{path}", tag = "dashboard", params(("path" = String, Path)),
    responses((status = 200, description = "an embedded asset"), (status = 404, body = ErrorBody)))]
async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// The content type of an embedded file, by extension; `None` for kinds the dashboard never ships.
fn content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1;
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        _ => return None,
    })
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let (Some(file), Some(kind)) = (Assets::get(path), content_type(path)) else {
        return tenantry::router::ApiError::not_found(
            "not_found",
            format!("no dashboard file {path}"),
        )
        .into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = file.data.into_owned().into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        r
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    for (name, value) in security_headers() {
        h.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn security_headers() -> [(header::HeaderName, &'static str); 4] {
    [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_has_a_known_content_type() {
        let unknown: Vec<String> = Assets::iter()
            .filter(|p| content_type(p).is_none())
            .map(|p| p.into_owned())
            .collect();
        assert!(unknown.is_empty(), "no content type for {unknown:?}");
    }

    /// A name, not an address: SVG files must declare it.
    const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";

    #[test]
    fn no_embedded_file_loads_anything_from_another_origin() {
        for path in Assets::iter() {
            let file = Assets::get(&path).unwrap();
            let text = String::from_utf8_lossy(&file.data).replace(SVG_NAMESPACE, "");
            for needle in ["http://", "https://", "//fonts.", "//cdn"] {
                assert!(!text.contains(needle), "{path} mentions {needle}");
            }
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_attribute() {
        let html = Assets::get("index.html").unwrap();
        let html = String::from_utf8_lossy(&html.data);
        assert!(html.contains("<script type=\"module\" src=\"/owner/js/main.js\"></script>"));
        assert_eq!(
            html.matches("<script").count(),
            1,
            "one external script only"
        );
        assert!(
            !html.contains("style="),
            "inline styles are refused by the CSP"
        );
        let handler = html.split(" on").skip(1).find(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(
            handler.is_none(),
            "inline event handlers are refused by the CSP"
        );
    }
}
