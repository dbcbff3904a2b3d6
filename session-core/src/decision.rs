//! The lifecycle decision: a pure function from what the request brought and
//! what the handler did to what the store and the cookie must do.

use time::OffsetDateTime;

use crate::config::{SessionConfig, TouchPolicy, Unset};
use crate::cookie::Verdict;
use crate::keys::KeyMatch;
use crate::state::State;
use crate::store::Version;

/// What the store must do at the end of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreAction {
    /// Nothing.
    Nothing,
    /// Insert the session as a new record expiring at `expires_at`.
    Create {
        /// Record expiry.
        expires_at: OffsetDateTime,
    },
    /// Compare-and-swap the record from version `expected`.
    Save {
        /// The version the request loaded.
        expected: Version,
        /// Record expiry.
        expires_at: OffsetDateTime,
    },
    /// Extend the record's expiry only.
    Touch {
        /// The new expiry.
        expires_at: OffsetDateTime,
    },
    /// Delete the record.
    Delete,
}

/// What the response must do with the client's cookie (or header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieAction {
    /// Leave it alone.
    Nothing,
    /// Set it to the current id, with this expiry (`None`: a
    /// browser-session cookie).
    Set {
        /// Cookie expiry.
        expires_at: Option<OffsetDateTime>,
    },
    /// Remove it.
    Remove,
}

/// The decision for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Store side.
    pub store: StoreAction,
    /// Cookie side.
    pub cookie: CookieAction,
}

impl Decision {
    const NOTHING: Decision = Decision {
        store: StoreAction::Nothing,
        cookie: CookieAction::Nothing,
    };
}

/// Decides what happens at the end of a request.
///
/// `state` is `None` when the handler never touched its session (no store
/// call, no cookie change). Pending deletions of earlier ids (after
/// `regenerate` or `destroy`) are not part of the decision: the driver
/// always performs them, after the decided action.
pub fn decide(
    verdict: Verdict, state: Option<&State>, config: &SessionConfig, now: OffsetDateTime,
) -> Decision {
    let Some(s) = state else {
        return Decision::NOTHING;
    };
    let resign = matches!(verdict, Verdict::Valid { id, key: KeyMatch::Previous } if id == s.id);
    let browser = s.lifetime.browser_session;
    let set = |expires_at: OffsetDateTime| CookieAction::Set {
        expires_at: (!browser).then_some(expires_at),
    };
    match s.version {
        None => {
            // A session with data, or tied to a user (a login), is worth
            // storing; an empty anonymous one only with save_uninitialized.
            let worth = config.save_uninitialized
                || (s.is_modified() && (!s.is_data_empty() || s.user.is_some()));
            if worth {
                let expires_at = s.lifetime.expires_at(now);
                Decision {
                    store: StoreAction::Create { expires_at },
                    cookie: set(expires_at),
                }
            } else if s.destroyed && verdict.is_present() {
                Decision {
                    store: StoreAction::Nothing,
                    cookie: CookieAction::Remove,
                }
            } else {
                Decision::NOTHING
            }
        }
        Some(expected) if s.is_modified() => {
            if s.is_data_empty() && config.unset == Unset::Destroy && !s.changes.is_empty() {
                return Decision {
                    store: StoreAction::Delete,
                    cookie: CookieAction::Remove,
                };
            }
            let expires_at = s.lifetime.expires_at(now);
            let cookie = if !browser || config.rolling || resign || s.expiry_changed {
                set(expires_at)
            } else {
                CookieAction::Nothing
            };
            Decision {
                store: StoreAction::Save {
                    expected,
                    expires_at,
                },
                cookie,
            }
        }
        Some(_) => match s.lifetime.touch(
            if s.touch_requested {
                TouchPolicy::Always
            } else {
                config.touch
            },
            s.expires_at,
            now,
        ) {
            Some(expires_at) => Decision {
                store: StoreAction::Touch { expires_at },
                cookie: if !browser || config.rolling || resign {
                    set(expires_at)
                } else {
                    CookieAction::Nothing
                },
            },
            None => Decision {
                store: StoreAction::Nothing,
                cookie: if config.rolling || resign {
                    set(s.expires_at)
                } else {
                    CookieAction::Nothing
                },
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expiry::{Expiry, Lifetime};
    use crate::id::SessionId;
    use crate::state::Change;
    use serde_json::json;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);

    #[derive(Debug, Clone, Copy)]
    struct Case {
        // request
        verdict: &'static str, // "absent" | "invalid" | "current" | "previous"
        // state
        stored: bool,
        touched: bool,
        data: bool,
        modified: bool,
        destroyed: bool,
        expiry_changed: bool,
        browser: bool,
        // elapsed seconds since the stored expiry was set (idle 100s)
        elapsed: i64,
        // config
        save_uninitialized: bool,
        rolling: bool,
        unset_destroy: bool,
    }

    const BASE: Case = Case {
        verdict: "current",
        stored: true,
        touched: true,
        data: true,
        modified: false,
        destroyed: false,
        expiry_changed: false,
        browser: false,
        elapsed: 0,
        save_uninitialized: false,
        rolling: false,
        unset_destroy: false,
    };

    fn run(c: Case) -> (Decision, State) {
        let config = SessionConfig::builder()
            .key(crate::test_key("key 1"))
            .idle_timeout(Some(Duration::seconds(100)))
            .absolute_timeout(Some(Duration::hours(10)))
            .save_uninitialized(c.save_uninitialized)
            .rolling(c.rolling)
            .unset(if c.unset_destroy {
                Unset::Destroy
            } else {
                Unset::Keep
            })
            .build()
            .unwrap();
        let created = NOW - Duration::hours(1);
        let lifetime = Lifetime::from_config(&config, created);
        let mut s = State::fresh(SessionId::from_bytes([9; 32]), lifetime, created);
        if c.data {
            s.data.insert("k".into(), json!(1));
        }
        if c.stored {
            s.version = Some(Version(3));
            s.expires_at = NOW - Duration::seconds(c.elapsed) + Duration::seconds(100);
        }
        if c.modified {
            if c.data {
                s.changes.push(Change::Set("k".into(), json!(1)));
            } else {
                s.changes.push(Change::Remove("k".into()));
            }
        }
        if c.destroyed {
            s.destroyed = true;
        }
        if c.expiry_changed || c.browser {
            s.lifetime = s.lifetime.with_override(
                &config,
                if c.browser {
                    Expiry::BrowserSession
                } else {
                    Expiry::Idle(Duration::seconds(100))
                },
            );
            s.expiry_changed = c.expiry_changed;
        }
        let verdict = match c.verdict {
            "absent" => Verdict::Absent,
            "invalid" => Verdict::Invalid,
            "current" => Verdict::Valid {
                id: s.id,
                key: KeyMatch::Current,
            },
            _ => Verdict::Valid {
                id: s.id,
                key: KeyMatch::Previous,
            },
        };
        let d = decide(verdict, c.touched.then_some(&s), &config, NOW);
        (d, s)
    }

    const EXP: OffsetDateTime = datetime!(2030-01-01 12:01:40 UTC);

    fn create() -> StoreAction {
        StoreAction::Create { expires_at: EXP }
    }
    fn save() -> StoreAction {
        StoreAction::Save {
            expected: Version(3),
            expires_at: EXP,
        }
    }
    fn set() -> CookieAction {
        CookieAction::Set {
            expires_at: Some(EXP),
        }
    }
    fn set_browser() -> CookieAction {
        CookieAction::Set { expires_at: None }
    }

    #[test]
    fn decision_table() {
        use CookieAction as C;
        use StoreAction as S;
        let fresh = Case {
            stored: false,
            verdict: "absent",
            data: false,
            ..BASE
        };
        let stale = NOW - Duration::seconds(30) + Duration::seconds(100);
        let table: Vec<(&str, Case, S, C)> = vec![
            // untouched sessions cost nothing, whatever the cookie says
            (
                "untouched/current",
                Case {
                    touched: false,
                    ..BASE
                },
                S::Nothing,
                C::Nothing,
            ),
            (
                "untouched/previous",
                Case {
                    touched: false,
                    verdict: "previous",
                    ..BASE
                },
                S::Nothing,
                C::Nothing,
            ),
            (
                "untouched/invalid",
                Case {
                    touched: false,
                    verdict: "invalid",
                    ..fresh
                },
                S::Nothing,
                C::Nothing,
            ),
            (
                "untouched/rolling",
                Case {
                    touched: false,
                    rolling: true,
                    ..BASE
                },
                S::Nothing,
                C::Nothing,
            ),
            // new sessions
            ("new, read only", fresh, S::Nothing, C::Nothing),
            (
                "new, read only, invalid cookie",
                Case {
                    verdict: "invalid",
                    ..fresh
                },
                S::Nothing,
                C::Nothing,
            ),
            (
                "new, save_uninitialized",
                Case {
                    save_uninitialized: true,
                    ..fresh
                },
                create(),
                set(),
            ),
            (
                "new, written",
                Case {
                    data: true,
                    modified: true,
                    ..fresh
                },
                create(),
                set(),
            ),
            (
                "new, written then emptied",
                Case {
                    data: false,
                    modified: true,
                    ..fresh
                },
                S::Nothing,
                C::Nothing,
            ),
            (
                "new, written, browser cookie",
                Case {
                    data: true,
                    modified: true,
                    browser: true,
                    ..fresh
                },
                create(),
                set_browser(),
            ),
            (
                "new, expiry only",
                Case {
                    expiry_changed: true,
                    ..fresh
                },
                S::Nothing,
                C::Nothing,
            ),
            (
                "destroyed, had cookie",
                Case {
                    destroyed: true,
                    verdict: "current",
                    ..fresh
                },
                S::Nothing,
                C::Remove,
            ),
            (
                "destroyed, invalid cookie",
                Case {
                    destroyed: true,
                    verdict: "invalid",
                    ..fresh
                },
                S::Nothing,
                C::Remove,
            ),
            (
                "destroyed, no cookie",
                Case {
                    destroyed: true,
                    ..fresh
                },
                S::Nothing,
                C::Nothing,
            ),
            (
                "destroyed then written",
                Case {
                    destroyed: true,
                    data: true,
                    modified: true,
                    verdict: "current",
                    ..fresh
                },
                create(),
                set(),
            ),
            // stored sessions, modified
            (
                "stored, written",
                Case {
                    modified: true,
                    ..BASE
                },
                save(),
                set(),
            ),
            (
                "stored, written, browser",
                Case {
                    modified: true,
                    browser: true,
                    ..BASE
                },
                save(),
                C::Nothing,
            ),
            (
                "stored, written, browser, rolling",
                Case {
                    modified: true,
                    browser: true,
                    rolling: true,
                    ..BASE
                },
                save(),
                set_browser(),
            ),
            (
                "stored, written, browser, previous key",
                Case {
                    modified: true,
                    browser: true,
                    verdict: "previous",
                    ..BASE
                },
                save(),
                set_browser(),
            ),
            (
                "stored, expiry changed",
                Case {
                    expiry_changed: true,
                    ..BASE
                },
                save(),
                set(),
            ),
            (
                "stored, expiry changed to browser",
                Case {
                    expiry_changed: true,
                    browser: true,
                    ..BASE
                },
                save(),
                set_browser(),
            ),
            (
                "stored, emptied, keep",
                Case {
                    modified: true,
                    data: false,
                    ..BASE
                },
                save(),
                set(),
            ),
            (
                "stored, emptied, unset=destroy",
                Case {
                    modified: true,
                    data: false,
                    unset_destroy: true,
                    ..BASE
                },
                S::Delete,
                C::Remove,
            ),
            (
                "stored, written, unset=destroy",
                Case {
                    modified: true,
                    unset_destroy: true,
                    ..BASE
                },
                save(),
                set(),
            ),
            // stored sessions, read only
            ("stored, read, fresh expiry", BASE, S::Nothing, C::Nothing),
            (
                "stored, read, previous key",
                Case {
                    verdict: "previous",
                    ..BASE
                },
                S::Nothing,
                set_at(EXP),
            ),
            (
                "stored, read, past threshold",
                Case {
                    elapsed: 30,
                    ..BASE
                },
                S::Touch { expires_at: EXP },
                set(),
            ),
            (
                "stored, read, past threshold, browser",
                Case {
                    elapsed: 30,
                    browser: true,
                    ..BASE
                },
                S::Touch { expires_at: EXP },
                C::Nothing,
            ),
            (
                "stored, read, below threshold",
                Case {
                    elapsed: 10,
                    ..BASE
                },
                S::Nothing,
                C::Nothing,
            ),
            (
                "stored, read, rolling",
                Case {
                    elapsed: 1,
                    rolling: true,
                    ..BASE
                },
                S::Touch { expires_at: EXP },
                set(),
            ),
            (
                "stored, read, rolling, no time passed",
                Case {
                    rolling: true,
                    ..BASE
                },
                S::Nothing,
                set(),
            ),
            (
                "stored, read, empty data",
                Case {
                    data: false,
                    elapsed: 30,
                    ..BASE
                },
                S::Touch { expires_at: EXP },
                set(),
            ),
        ];
        let _ = stale;
        for (name, case, store, cookie) in table {
            let (d, _) = run(case);
            assert_eq!(d, Decision { store, cookie }, "case: {name}");
        }
    }

    #[test]
    fn a_login_without_data_is_stored() {
        let config = crate::config::test_config("key 1");
        let lifetime = Lifetime::from_config(&config, NOW);
        let mut s = State::fresh(SessionId::from_bytes([3; 32]), lifetime, NOW);
        s.user = Some("ada".into());
        s.user_changed = true;
        let d = decide(Verdict::Absent, Some(&s), &config, NOW);
        assert!(matches!(d.store, StoreAction::Create { .. }), "{d:?}");
        assert!(matches!(d.cookie, CookieAction::Set { .. }), "{d:?}");
    }

    fn set_at(t: OffsetDateTime) -> CookieAction {
        CookieAction::Set {
            expires_at: Some(t),
        }
    }

    /// Every combination of flags and options: invariants that hold for all.
    #[test]
    fn exhaustive_invariants() {
        let bools = [false, true];
        let mut n = 0;
        for verdict in ["absent", "invalid", "current", "previous"] {
            for stored in bools {
                for touched in bools {
                    for data in bools {
                        for modified in bools {
                            for destroyed in bools {
                                for expiry_changed in bools {
                                    for browser in bools {
                                        for elapsed in [0, 10, 30, 99] {
                                            for save_uninitialized in bools {
                                                for rolling in bools {
                                                    for unset_destroy in bools {
                                                        let c = Case {
                                                            verdict,
                                                            stored,
                                                            touched,
                                                            data,
                                                            modified,
                                                            destroyed,
                                                            expiry_changed,
                                                            browser,
                                                            elapsed,
                                                            save_uninitialized,
                                                            rolling,
                                                            unset_destroy,
                                                        };
                                                        check(c, run(c));
                                                        n += 1;
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(n, 4 * 2usize.pow(10) * 4);
    }

    fn check(c: Case, (d, s): (Decision, State)) {
        let ctx = format!("{c:?} -> {d:?}");
        if !c.touched {
            assert_eq!(d, Decision::NOTHING, "{ctx}");
            return;
        }
        match d.store {
            // A new record is only created for a session that is not stored.
            StoreAction::Create { .. } => assert!(!c.stored, "{ctx}"),
            // Save/touch/delete only for stored sessions, with the loaded version.
            StoreAction::Save { expected, .. } => {
                assert!(c.stored && s.is_modified(), "{ctx}");
                assert_eq!(expected, Version(3));
            }
            StoreAction::Touch { expires_at } => {
                assert!(c.stored && !s.is_modified(), "{ctx}");
                assert!(expires_at > s.expires_at, "{ctx}");
            }
            StoreAction::Delete => assert!(c.stored && c.unset_destroy && !c.data, "{ctx}"),
            StoreAction::Nothing => {
                // A modified stored session is never silently dropped.
                assert!(!(c.stored && s.is_modified()), "{ctx}");
            }
        }
        match d.cookie {
            CookieAction::Set { expires_at } => {
                // Cookies carry an expiry exactly when they are not browser-session cookies.
                assert_eq!(expires_at.is_none(), c.browser, "{ctx}");
                // Nothing is set for a session the store will not have.
                assert!(
                    c.stored || matches!(d.store, StoreAction::Create { .. }),
                    "{ctx}"
                );
                assert!(!matches!(d.store, StoreAction::Delete), "{ctx}");
            }
            CookieAction::Remove => assert!(
                (c.destroyed && c.verdict != "absent") || matches!(d.store, StoreAction::Delete),
                "{ctx}"
            ),
            CookieAction::Nothing => {
                // A re-signed value is always re-issued when the session is stored and kept.
                if c.verdict == "previous" && c.stored && d.store != StoreAction::Delete {
                    panic!("previous-key cookie not re-issued: {ctx}");
                }
                if matches!(d.store, StoreAction::Create { .. }) {
                    panic!("created without a cookie: {ctx}");
                }
            }
        }
        if matches!(c.verdict, "absent" | "invalid") && c.stored {
            // (Only reachable in this synthetic table: a stored session always
            // came from a valid cookie or an earlier flush.)
        }
        let _ = TouchPolicy::Always;
    }
}
