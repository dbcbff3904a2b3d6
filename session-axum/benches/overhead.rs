#![allow(missing_docs)] // criterion_group! generates undocumented items
//! The per-request cost of `SessionLayer`, in process (no sockets): the
//! same routes as `cargo xtask bench` on a bare router and on one with the
//! layer and a `MemoryStore`, driven through `tower::ServiceExt::oneshot`.
//! The difference is the adapter's and the core's overhead per request.
//!
//! `cargo bench -p session-axum --bench overhead`; under callgrind, pass
//! `--profile-time 5 <name>` to run one bench without criterion's analysis.

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, header};
use session_axum::SessionLayer;
use session_axum::testing::{bare_bench_routes as bare, bench_routes};
use session_core::{MemoryStore, SessionConfig};
use tower::ServiceExt as _;

fn ours() -> Router {
    let config = SessionConfig::builder()
        .key(session_core::test_key("key 7"))
        .build()
        .unwrap();
    bench_routes().layer(SessionLayer::new(config, MemoryStore::new()))
}

fn request(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).unwrap()
}

async fn call(app: &Router, path: &str, cookie: Option<&str>) -> http::Response<Body> {
    app.clone().oneshot(request(path, cookie)).await.unwrap()
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let bare = bare();
    let ours = ours();
    // One existing session, as in the HTTP bench.
    let res = rt.block_on(call(&ours, "/new", None));
    let set_cookie = res.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let cookie = cookie.as_str();

    for route in ["/read", "/incr"] {
        c.bench_function(&format!("bare{route}"), |b| {
            b.iter(|| rt.block_on(call(&bare, route, Some(black_box(cookie)))))
        });
        c.bench_function(&format!("ours{route}"), |b| {
            b.iter(|| rt.block_on(call(&ours, route, Some(black_box(cookie)))))
        });
    }
    c.bench_function("bare/new", |b| {
        b.iter(|| rt.block_on(call(&bare, "/new", None)))
    });
    c.bench_function("ours/new", |b| {
        b.iter(|| rt.block_on(call(&ours, "/new", None)))
    });
}

criterion_group!(benches, overhead);
criterion_main!(benches);
