//! The shared part of the async driver: configuration, store, clock and
//! event hook, and the one function that performs a store call the pure
//! lifecycle asked for. No decision is made here.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use http::HeaderName;

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
    /// Whether anybody listens to lifecycle events of `kind`.
    pub(crate) fn listening(&self, kind: EventKind) -> bool {
        self.hook.is_some()
            || match kind {
                EventKind::StoreError => events::logged(tracing::Level::ERROR),
                _ => events::logged(tracing::Level::DEBUG),
            }
    }

    /// Emits a lifecycle event to `tracing` and the hook.
    pub(crate) fn emit(&self, kind: EventKind, id: Option<&SessionId>, user: Option<&str>) {
        if !self.listening(kind) {
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
            ..Event::new(kind)
        };
        events::trace(&event);
        if let Some(h) = &self.hook {
            h.on_event(&event);
        }
    }

    /// Runs a store call, reporting its latency and outcome when anybody
    /// listens (a hook, or `tracing` at debug level for target `session`),
    /// and logging a failure.
    pub(crate) async fn timed<T>(
        &self, op: &'static str, call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let result = if self.hook.is_none() && !events::logged(tracing::Level::DEBUG) {
            call.await
        } else {
            let start = Instant::now();
            let result = call.await;
            let event = Event {
                op: Some(op),
                latency: Some(start.elapsed()),
                ok: Some(result.is_ok()),
                ..Event::new(EventKind::StoreCall)
            };
            events::trace(&event);
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
            tracing::error!(target: "session", event = "store_error", op, error = e as &dyn std::error::Error, "session store call failed");
        }
        result
    }

    /// Performs one store call the lifecycle asked for and hands back the
    /// store's answer untouched.
    pub(crate) async fn perform(&self, call: Call) -> Result<Reply, StoreError> {
        let s = &*self.store;
        Ok(match call {
            Call::Load(key) => Reply::Loaded(self.timed("load", s.load(&key)).await?),
            Call::Create(r) => Reply::Created(self.timed("create", s.create(&r)).await?),
            Call::Save(r, v) => Reply::Saved(self.timed("save", s.save(&r, v)).await?),
            Call::Touch(key, v, at) => {
                Reply::Touched(self.timed("touch", s.touch(&key, v, at)).await?)
            }
            Call::Retire(key, v) => Reply::Retired(self.timed("retire", s.retire(&key, v)).await?),
            Call::Delete(key) => {
                self.timed("delete", s.delete(&key)).await?;
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
                    Reply::Admitted(self.timed("admit", index.admit(login)).await?)
                }
                None => return Err(StoreError::Malformed("the store has no user index")),
            },
        })
    }
}
