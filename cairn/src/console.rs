//! The web console's HTTP side: its static assets, built into the binary so the console
//! works offline and `cargo build` needs no Node. The pages call the Step Functions API of
//! the same server (POST /), so this module only serves files.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use hyper::{Method, Request, Response, StatusCode};

/// Where the console lives on the server.
pub const PREFIX: &str = "/console";

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/console/",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../console/index.html"),
    },
    Asset {
        path: "/console/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/app.js"),
    },
    Asset {
        path: "/console/graph.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/graph.js"),
    },
    Asset {
        path: "/console/history.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/history.js"),
    },
    Asset {
        path: "/console/sigv4.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/sigv4.js"),
    },
    Asset {
        path: "/console/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../console/style.css"),
    },
    Asset {
        path: "/console/favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../console/favicon.svg"),
    },
];

/// Bytes the console adds to the binary (its assets).
#[cfg(test)]
fn assets_size() -> usize {
    ASSETS.iter().map(|a| a.body.len()).sum()
}

/// Answers a GET or HEAD request that is the console's, or None for the API to answer.
/// `GET /` from a browser (it accepts text/html; AWS clients never ask for it) goes to the
/// console; every other request to `/` stays the API's, unchanged.
pub fn route<B>(request: &Request<B>) -> Option<Response<Full<Bytes>>> {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let path = request.uri().path();
    let head = method == Method::HEAD;
    if path == "/" {
        let browser = request
            .headers()
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
        return browser.then(|| redirect("/console/"));
    }
    if path == PREFIX {
        return Some(redirect("/console/"));
    }
    if !path.starts_with("/console/") {
        return None;
    }
    Some(match ASSETS.iter().find(|a| a.path == path) {
        Some(asset) => asset_response(asset, head),
        None => not_found(path, head),
    })
}

fn asset_response(asset: &Asset, head: bool) -> Response<Full<Bytes>> {
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from_static(asset.body)
    };
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    // The assets change with the binary: always revalidate rather than show a stale console
    // after an upgrade.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    // Nothing but this server: no inline script, no CDN, no font service.
    headers.insert(
        "Content-Security-Policy",
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    if !head {
        return response;
    }
    headers.insert(
        hyper::header::CONTENT_LENGTH,
        HeaderValue::from(asset.body.len()),
    );
    response
}

fn redirect(to: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::FOUND;
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static(to));
    response
}

fn not_found(path: &str, head: bool) -> Response<Full<Bytes>> {
    let text = if head {
        String::new()
    } else {
        format!("{path}: no such page in the console\n")
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, accept: Option<&str>) -> Request<()> {
        let mut builder = Request::builder().method(Method::GET).uri(path);
        if let Some(accept) = accept {
            builder = builder.header(ACCEPT, accept);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn a_browser_at_the_root_goes_to_the_console_and_api_clients_do_not() {
        let response = route(&get("/", Some("text/html,application/xhtml+xml,*/*"))).unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()[LOCATION], "/console/");
        assert!(route(&get("/", None)).is_none());
        assert!(route(&get("/", Some("application/x-amz-json-1.0"))).is_none());
        let post = Request::builder()
            .method(Method::POST)
            .uri("/console/")
            .body(())
            .unwrap();
        assert!(route(&post).is_none());
    }

    #[test]
    fn assets_are_served_with_their_types_and_unknown_paths_are_404() {
        let page = route(&get("/console/", None)).unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let script = route(&get("/console/graph.js", None)).unwrap();
        assert!(script.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        assert_eq!(
            route(&get("/console", None)).unwrap().status(),
            StatusCode::FOUND
        );
        assert_eq!(
            route(&get("/console/../Cargo.toml", None))
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
        assert!(route(&get("/other", None)).is_none());
    }

    #[test]
    fn the_page_loads_only_assets_that_exist_and_nothing_from_elsewhere() {
        let html = std::str::from_utf8(ASSETS[0].body).unwrap();
        for reference in html
            .split(['"', '\''])
            .filter(|s| s.starts_with("/console/"))
        {
            assert!(
                ASSETS.iter().any(|a| a.path == reference),
                "index.html refers to {reference}, which is not embedded"
            );
        }
        for asset in ASSETS {
            let text = String::from_utf8_lossy(asset.body);
            assert!(
                !text.contains("https://") && !text.contains("//cdn"),
                "{} loads something from the network",
                asset.path
            );
        }
        assert!(assets_size() < 200 * 1024);
    }
}
