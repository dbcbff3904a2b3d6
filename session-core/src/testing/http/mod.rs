//! The HTTP scenario suite: framework-neutral scenarios, sequences of
//! `http::Request`s and checks on `http::Response`s, run against every
//! adapter with every store.
//!
//! An adapter implements [`TestApp`]: given a [`SessionManager`](crate::SessionManager), it builds
//! its framework's test app (its session layer around one catch-all route
//! that calls [`route`], the table below) and returns a [`Client`] over the
//! framework's in-process test client.
//!
//! | route | what the handler does | response body |
//! |---|---|---|
//! | `GET /get/{key}` | `get` | the JSON value, or `null` |
//! | `POST /set/{key}` (JSON body) | `insert` | `ok` (or the failure) |
//! | `POST /remove/{key}` | `remove` | `ok` |
//! | `POST /incr/{key}` | `update(key, n + 1)` | the new value |
//! | `POST /regenerate` | `regenerate` | `ok` |
//! | `POST /destroy` | `destroy` | `ok` |
//! | `GET /id` | `id` | the session id |
//! | `POST /expiry` (body `idle:<secs>`, `at:<unix secs>`, `browser` or `default`, read by [`expiry_from_body`]) | `set_expiry` | `ok`, or 400 `bad expiry` |
//! | `GET /untouched` | nothing | `ok` |
//! | `GET /entries` | `entries` | the JSON map |
//! | `POST /with-cookie/{key}` | `insert(key, true)` and adds its own `Set-Cookie: app=1` | `ok` |
//! | `GET`/`POST /public/{key}` | `get` / `insert(key, true)`, and answers `Cache-Control: public, max-age=3600`, `Vary: Accept-Encoding` | `ok` |
//! | `{method} /fail/{route}` | the route `/{route}`, then a 500 | `failed` |
//! | `POST /touch` | `touch` | `ok` |
//! | `POST /as/{user}` | `set_user(user)` (no `regenerate`) | `ok` |
//! | `POST /login/{user}` | `regenerate`, `set_user(user)`, `insert("user", user)` | `ok` |
//! | `GET /devices` | `devices` | JSON array of `{"handle": .., "current": ..}` |
//! | `POST /revoke-others` | `revoke_others` | the number revoked |
//! | `POST /revoke/{handle}` | `revoke(handle)` | `true` or `false` |
//! | `POST /held/{gate}/{then}` | [`held`]: load, wait at the gate, then `rotate` or `read` | `ok` |
//!
//! A handler that gets a `SessionError` answers 500 with body `error`,
//! except a payload-too-large error, answered 413 with body `too large`;
//! the adapter turns store failures into the configured failure response
//! whatever the handler answered.

mod edge;
mod harness;
mod hostile;
mod routes;
mod scenarios;

pub use crate::testing::races::{
    Gate, concurrent_logins_keep_the_cap, gate, held, rotation_racing_a_logout_never_resurrects,
    rotation_racing_a_revocation_never_resurrects, rotation_racing_a_write_keeps_both,
    touch_racing_a_shorter_expiry,
};
pub use edge::*;
pub use harness::{
    Browser, Client, KEY, OLD_KEY, Reply, TestApp, base_config, cookie_value, expiry_from_body,
    send_raw,
};
pub(in crate::testing) use harness::{app, assert_ok, build, clocked_app};
pub use hostile::{ADVERSARIAL_REQUESTS, ADVERSARIAL_SEED, adversarial_cookies_never_leak};
pub use routes::route;
pub use scenarios::*;

#[cfg(test)]
mod tests {
    /// The scenario functions (`pub async fn name(a: &impl TestApp, store:
    /// Arc<dyn Store>)`) of a source file.
    fn scenarios(source: &str) -> Vec<String> {
        let mut out = Vec::new();
        for rest in source.split("pub async fn ").skip(1) {
            let Some((name, args)) = rest.split_once('(') else {
                continue;
            };
            let args = args.split_once(')').map_or("", |(a, _)| a);
            let args: String = args.split_whitespace().collect::<Vec<_>>().join(" ");
            if args.trim_end_matches(',') == "a: &impl TestApp, store: Arc<dyn Store>" {
                out.push(name.trim().to_owned());
            }
        }
        out
    }

    /// The cases listed in `http_scenarios!`.
    fn listed() -> Vec<String> {
        let source = include_str!("../mod.rs");
        let start = source
            .find("macro_rules! http_scenarios")
            .expect("the macro");
        let list = &source[start..];
        let list = &list[list.find("$make;").expect("the case list") + "$make;".len()..];
        let list = &list[..list.find(");").expect("the end of the list")];
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_scenario_is_listed_in_the_macro() {
        let mut defined: Vec<String> = [
            include_str!("scenarios.rs"),
            include_str!("edge.rs"),
            include_str!("hostile.rs"),
            include_str!("../races.rs"),
        ]
        .into_iter()
        .flat_map(scenarios)
        .collect();
        let mut listed = listed();
        assert!(defined.len() > 20, "too few scenarios found: {defined:?}");
        defined.sort();
        listed.sort();
        let missing: Vec<_> = defined.iter().filter(|d| !listed.contains(d)).collect();
        let unknown: Vec<_> = listed.iter().filter(|l| !defined.contains(l)).collect();
        assert!(
            missing.is_empty(),
            "scenarios not in http_scenarios!: {missing:?}"
        );
        assert!(
            unknown.is_empty(),
            "listed in http_scenarios! but not defined: {unknown:?}"
        );
        let mut deduped = listed.clone();
        deduped.dedup();
        assert_eq!(deduped, listed, "a scenario is listed twice");
    }
}
