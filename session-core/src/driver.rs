//! The shared part of the async driver: configuration, store, clock and
//! event hook, and the one function that performs a store call the pure
//! lifecycle asked for. No decision is made here.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use http::HeaderName;
use tracing::{Instrument, Span, field};

use crate::clock::Clock;
use crate::config::SessionConfig;
use crate::events::{self, Event, EventHook, EventKind};
use crate::id::SessionId;
use crate::lifecycle::{Call, Reply};
use crate::store::{Login, Store, StoreError};

/// What every request of one [`SessionManager`](crate::SessionManager)
/// shares.
pub(crate) struct Driver {
    pub(crate) config: SessionConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) hook: Option<Arc<dyn EventHook>>,
    pub(crate) request_header: HeaderName,
    pub(crate) response_header: HeaderName,
}

impl Driver {
    /// Whether anybody listens to lifecycle events of `kind`: the
    /// `metrics` feature, a hook, or a logger.
    pub(crate) fn listening(&self, kind: EventKind) -> bool {
        cfg!(feature = "metrics") || self.observed(kind)
    }

    /// Whether a hook or a logger wants events of `kind`.
    pub(crate) fn observed(&self, kind: EventKind) -> bool {
        self.hook.is_some()
            || match kind {
                EventKind::StoreError => events::logged(tracing::Level::ERROR),
                _ => events::logged(tracing::Level::DEBUG),
            }
    }

    /// Emits a lifecycle event to the metrics, `tracing` and the hook.
    pub(crate) fn emit(&self, kind: EventKind, id: Option<&SessionId>, user: Option<&str>) {
        self.emit_retry(kind, id, user, None);
    }

    /// [`emit`](Self::emit) with a conflict replay's number.
    pub(crate) fn emit_retry(
        &self, kind: EventKind, id: Option<&SessionId>, user: Option<&str>, retry: Option<u32>,
    ) {
        #[cfg(feature = "metrics")]
        crate::metrics::event(kind);
        if !self.observed(kind) {
            return;
        }
        let mut buf = [0u8; crate::id::ID_TEXT_LEN];
        let mut tag = [0u8; 12];
        let prefix = id.map(|id| {
            let text = id.encode_into(&mut buf);
            self.config.keys.event_tag(text.as_bytes(), &mut tag)
        });
        let event = Event {
            session: prefix,
            user,
            retry,
            ..Event::new(kind)
        };
        events::trace(&event);
        if let Some(h) = &self.hook {
            h.on_event(&event);
        }
    }

    /// Runs a store call, reporting its latency and outcome when anybody
    /// listens (the `metrics` feature, a hook, or `tracing` at debug level
    /// for target `session`), and logging a failure.
    pub(crate) async fn timed<T>(
        &self, op: &'static str, call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.timed_in(op, None, call).await
    }

    /// [`timed`](Self::timed) for a call of a request: at debug level its
    /// span is a child of the request's `session` span, made by the
    /// request's first traced store call and kept in `request`.
    async fn timed_in<T>(
        &self, op: &'static str, request: Option<&OnceLock<Span>>,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let traced = events::logged(tracing::Level::DEBUG);
        let result = if !cfg!(feature = "metrics") && self.hook.is_none() && !traced {
            call.await
        } else {
            let span = if traced {
                let call_span = || {
                    tracing::debug_span!(target: "session", "session_store_call",
                        op, ok = field::Empty, latency_us = field::Empty)
                };
                // Under the request's span when there is a request.
                match request {
                    Some(r) => r
                        .get_or_init(|| tracing::debug_span!(target: "session", "session"))
                        .in_scope(call_span),
                    None => call_span(),
                }
            } else {
                Span::none()
            };
            let start = Instant::now();
            let result = call.instrument(span.clone()).await;
            let latency = start.elapsed();
            span.record("ok", result.is_ok());
            span.record("latency_us", latency.as_micros() as u64);
            #[cfg(feature = "metrics")]
            crate::metrics::store_call(op, result.is_ok(), latency);
            let event = Event {
                op: Some(op),
                latency: Some(latency),
                ok: Some(result.is_ok()),
                ..Event::new(EventKind::StoreCall)
            };
            if traced {
                events::trace(&event);
            }
            if let Some(h) = &self.hook {
                h.on_event(&event);
                if result.is_err() {
                    h.on_event(&Event {
                        op: Some(op),
                        ..Event::new(EventKind::StoreError)
                    });
                }
            }
            result
        };
        if let Err(e) = &result {
            #[cfg(feature = "metrics")]
            crate::metrics::store_error(op);
            tracing::error!(target: "session", event = "store_error", op, error = e as &dyn std::error::Error, "session store call failed");
        }
        result
    }

    /// Performs one store call the lifecycle asked for and hands back the
    /// store's answer untouched. `request`: the request's span, see
    /// [`timed_in`](Self::timed_in).
    pub(crate) async fn perform(
        &self, call: Call, request: &OnceLock<Span>,
    ) -> Result<Reply, StoreError> {
        let s = &*self.store;
        let req = Some(request);
        Ok(match call {
            Call::Load(key) => Reply::Loaded(self.timed_in("load", req, s.load(&key)).await?),
            Call::Create(r) => Reply::Created(self.timed_in("create", req, s.create(&r)).await?),
            Call::Save(r, v) => Reply::Saved(self.timed_in("save", req, s.save(&r, v)).await?),
            Call::Touch(key, v, at) => {
                Reply::Touched(self.timed_in("touch", req, s.touch(&key, v, at)).await?)
            }
            Call::Retire(key, v) => {
                Reply::Retired(self.timed_in("retire", req, s.retire(&key, v)).await?)
            }
            Call::Delete(key) => {
                self.timed_in("delete", req, s.delete(&key)).await?;
                Reply::Deleted
            }
            Call::Admit(record, expected, at, cap) => match s.user_index() {
                Some(index) => {
                    let login = Login {
                        record: &record,
                        expected,
                        at,
                        cap,
                    };
                    Reply::Admitted(self.timed_in("admit", req, index.admit(login)).await?)
                }
                None => return Err(StoreError::Malformed("the store has no user index")),
            },
        })
    }
}
