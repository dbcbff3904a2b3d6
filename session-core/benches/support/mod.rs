//! Shared bench helpers: a minimal executor for futures that are ready at
//! once (MemoryStore never waits) and a session to load.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use session_core::{RequestMeta, SessionManager};

/// Polls `f` to completion without a runtime.
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

/// Creates a session holding a user and a counter; returns its `Cookie`
/// header value.
pub(crate) fn setup_session(manager: &SessionManager) -> String {
    block_on(async {
        let s = manager.start([], RequestMeta::default());
        s.insert("user", "ada").await.unwrap();
        s.insert("n", 1u64).await.unwrap();
        let h = manager.finish(&s).await.unwrap().unwrap();
        h.value.split(';').next().unwrap().to_owned()
    })
}
