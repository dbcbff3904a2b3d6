//! At debug level a request whose session calls the store gets one
//! `session` span, and each store call a child `session_store_call` span
//! with its operation, outcome and latency.

use std::sync::{Arc, Mutex};

use session_core::MemoryStore;
use session_core::testing::held::{close, manager_with, open, stored};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

/// One span as seen by the subscriber: its name, its parent's name, and
/// its fields as `name=value`.
#[derive(Debug, Default, Clone)]
struct Seen {
    name: &'static str,
    parent: Option<&'static str>,
    fields: Vec<String>,
}

struct Fields<'a>(&'a mut Vec<String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push(format!("{}={value}", field.name()));
    }
}

/// Keeps every span (its index in `spans` lives in the span's extensions).
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Seen>>>);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("a new span is registered");
        let mut seen = Seen {
            name: attrs.metadata().name(),
            parent: span.parent().map(|p| p.name()),
            fields: Vec::new(),
        };
        attrs.record(&mut Fields(&mut seen.fields));
        let mut all = self.0.lock().unwrap();
        span.extensions_mut().insert(all.len());
        all.push(seen);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("a recorded span is registered");
        let index = *span.extensions().get::<usize>().expect("indexed");
        values.record(&mut Fields(&mut self.0.lock().unwrap()[index].fields));
    }
}

#[tokio::test]
async fn a_request_span_with_one_child_per_store_call() {
    let spans = Spans::default();
    let _guard = tracing::subscriber::set_default(Registry::default().with(spans.clone()));

    let m = manager_with(Arc::new(MemoryStore::new()), |b| b);
    let cookie = stored(&m, "n", 1).await;
    spans.0.lock().unwrap().clear();

    // One request: a load and a save.
    let s = open(&m, Some(&cookie));
    assert_eq!(s.get::<i32>("n").await.unwrap(), Some(1));
    s.insert("n", 2).await.unwrap();
    close(&m, &s).await;
    drop(s);

    let seen = spans.0.lock().unwrap().clone();
    let requests: Vec<_> = seen.iter().filter(|s| s.name == "session").collect();
    assert_eq!(requests.len(), 1, "one request span: {seen:#?}");
    let calls: Vec<_> = seen
        .iter()
        .filter(|s| s.name == "session_store_call")
        .collect();
    let ops: Vec<_> = calls
        .iter()
        .map(|c| c.fields.iter().find(|f| f.starts_with("op=")).cloned())
        .collect();
    assert_eq!(
        ops,
        [Some("op=load".to_owned()), Some("op=save".to_owned())],
        "{seen:#?}"
    );
    for call in calls {
        assert_eq!(call.parent, Some("session"), "{call:?}");
        assert!(call.fields.contains(&"ok=true".to_owned()), "{call:?}");
        assert!(
            call.fields.iter().any(|f| f.starts_with("latency_us=")),
            "{call:?}"
        );
    }
}
