//! A deterministic simulation of concurrent requests (in the spirit of
//! FoundationDB's and TigerBeetle's simulation testing). The sans-IO
//! lifecycle makes it cheap: each simulated request is a
//! `Lifecycle` (`lifecycle.rs`) driven by hand, and a seeded scheduler
//! decides which request performs its next store call, so every
//! interleaving of store calls is reachable and replays exactly from its
//! seed. The same schedule runs against [`MemoryStore`] and against a
//! deliberately simple model store, and after every store call the
//! invariants of the contract are checked on both:
//!
//! - no acknowledged update is lost (unless a destroy, revocation or
//!   expiry ended its session): every live record holds every write
//!   acknowledged in its session's lineage, and its counter equals its
//!   number of writes;
//! - nothing ended comes back: no record of a destroyed, revoked or expired
//!   lineage is ever live again, and a lineage never forks into two live
//!   records;
//! - the per-user cap is never exceeded, and a login under `RevokeOldest`
//!   never leaves its user with 0 sessions;
//! - no record expires past the deadline stored in its payload;
//! - the user index lists every live session of its user.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use futures_util::FutureExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::clock::{Clock, ManualClock};
use crate::config::{SessionCap, SessionConfig};
use crate::cookie::Verdict;
use crate::expiry::Expiry;
use crate::id::{SessionId, StoreKey};
use crate::keys::KeyMatch;
use crate::lifecycle::{Call, Lifecycle, Reply, Step};
use crate::memory::MemoryStore;
use crate::state::{Change, decode};
use crate::store::{
    Admission, Created, Login, Record, Retired, Saved, Store, StoreAdmin, StoreError, Touched,
    UserIndex, Version,
};

/// What a simulated request's handler does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Reads the counter (a read-only request, which touches).
    Read,
    /// Increments the counter and writes its own key (`update` + `insert`).
    Write,
    /// `regenerate`, then a write.
    Rotate,
    /// `regenerate`, `set_user("alice")` under the cap, then a write: a
    /// login on the shared session.
    Login,
    /// A login from another device: a fresh session (no cookie).
    LoginElsewhere,
    /// `destroy` (logout).
    Destroy,
    /// `set_expiry(At(now + 40 s))` and a write.
    Shorten,
    /// `revoke_all("alice")` (not a request's lifecycle: a listing, then a
    /// delete per session).
    RevokeAll,
}

const OPS: [Op; 8] = [
    Op::Read,
    Op::Write,
    Op::Rotate,
    Op::Login,
    Op::LoginElsewhere,
    Op::Destroy,
    Op::Shorten,
    Op::RevokeAll,
];

/// One simulated request: what it does, and after how many store calls
/// it is dropped (the client went away), if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// The handler's operation.
    pub op: Op,
    /// Dropped after this many store calls.
    pub drop_after: Option<usize>,
}

/// The settings of one run.
#[derive(Debug, Clone, Copy)]
pub struct World {
    /// The per-user cap's policy (cap 1).
    pub policy: SessionCap,
    /// The shared session starts logged in as alice.
    pub logged_in: bool,
}

/// A failed invariant, with what replays it.
#[derive(Debug)]
pub struct Failure {
    /// The invariant and the state that broke it.
    pub what: String,
    /// The store it broke on ("memory" or "model").
    pub store: &'static str,
    /// The programs and the world.
    pub setup: String,
    /// The scheduler's choices.
    pub choices: Vec<usize>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} store: {}\n  setup: {}\n  choices: {:?}",
            self.store, self.what, self.setup, self.choices
        )
    }
}

/// Where the scheduler's choices come from.
trait Chooser {
    fn choose(&mut self, options: usize) -> usize;
}

struct Seeded(StdRng);

impl Chooser for Seeded {
    fn choose(&mut self, options: usize) -> usize {
        self.0.random_range(0..options)
    }
}

/// Replays a prefix, then takes option 0, recording how many options each
/// choice had (for the exhaustive search).
struct Replay {
    prefix: Vec<usize>,
    taken: Vec<(usize, usize)>,
}

impl Chooser for Replay {
    fn choose(&mut self, options: usize) -> usize {
        let i = self.taken.len();
        let c = self.prefix.get(i).copied().unwrap_or(0).min(options - 1);
        self.taken.push((c, options));
        c
    }
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(2_000_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn config(world: World, ids: Arc<Mutex<u64>>) -> SessionConfig {
    SessionConfig::builder()
        .key(crate::test_key("key 7"))
        .idle_timeout(Some(Duration::seconds(100)))
        .absolute_timeout(Some(Duration::hours(1)))
        .touch_policy(crate::TouchPolicy::Always)
        .max_sessions_per_user(1, world.policy)
        .max_conflict_retries(8)
        .id_generator(Arc::new(move || {
            let mut n = ids.lock().unwrap_or_else(PoisonError::into_inner);
            *n += 1;
            let mut b = [0u8; 32];
            b[..8].copy_from_slice(&n.to_le_bytes());
            b[8] = 0x5a;
            SessionId::from_bytes(b)
        }))
        .build()
        .unwrap_or_else(|e| panic!("simulation config: {e}"))
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    // Both stores answer without waiting.
    f.now_or_never()
        .unwrap_or_else(|| panic!("a simulated store call did not complete at once"))
}

/// One actor of the schedule.
struct Actor {
    program: Program,
    index: usize,
    lc: Lifecycle,
    stage: Stage,
    calls: usize,
    /// For `RevokeAll`: the keys still to delete.
    revoking: Vec<StoreKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Load,
    Handler,
    FlushLogin,
    Flush,
    List,
    Revoke,
    Done,
}

struct Run<'a> {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    config: SessionConfig,
    world: World,
    /// Every key ever written.
    keys: BTreeSet<StoreKey>,
    /// Lineages ended (destroyed, revoked or expired).
    ended: BTreeSet<u64>,
    /// Writes acknowledged per lineage.
    acked: BTreeMap<u64, BTreeSet<String>>,
    /// The live records after the last step, by key: (lineage, version).
    live: BTreeMap<StoreKey, u64>,
    next_lineage: u64,
    replies: &'a mut Vec<String>,
}

impl Run<'_> {
    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    fn perform(&mut self, call: Call) -> Result<Reply, StoreError> {
        let s = &*self.store;
        let reply = match call {
            Call::Load(key) => Reply::Loaded(block(s.load(&key))?),
            Call::Create(r) => {
                self.keys.insert(r.key);
                Reply::Created(block(s.create(&r))?)
            }
            Call::Save(r, v) => Reply::Saved(block(s.save(&r, v))?),
            Call::Touch(k, v, at) => Reply::Touched(block(s.touch(&k, v, at))?),
            Call::Retire(k, v) => Reply::Retired(block(s.retire(&k, v))?),
            Call::Delete(k) => {
                block(s.delete(&k))?;
                Reply::Deleted
            }
            Call::Admit(r, v, at, cap) => {
                self.keys.insert(r.key);
                let index = s
                    .user_index()
                    .ok_or(StoreError::Malformed("no user index"))?;
                Reply::Admitted(block(index.admit(Login {
                    record: &r,
                    expected: v,
                    at,
                    cap,
                }))?)
            }
        };
        self.replies.push(format!("{reply:?}"));
        Ok(reply)
    }

    /// The live records now: key -> (lineage, record).
    fn snapshot(&self) -> Result<BTreeMap<StoreKey, (u64, Record)>, String> {
        let mut out = BTreeMap::new();
        for key in &self.keys {
            if let Some(r) = block(self.store.load(key)).map_err(|e| e.to_string())? {
                let d = decode(&r.payload).map_err(|e| format!("undecodable record: {e}"))?;
                let lin = d
                    .data
                    .get("lin")
                    .and_then(Value::as_u64)
                    .unwrap_or(u64::MAX);
                out.insert(*key, (lin, r));
            }
        }
        Ok(out)
    }

    /// Checks every invariant after a step (`retired`: keys the step
    /// retired as part of an id rotation; `login`: the step admitted a
    /// login under `RevokeOldest`).
    fn check(&mut self, retired: &[StoreKey], login_admitted: bool) -> Result<(), String> {
        let now = self.live_now()?;
        for (key, lin) in &self.live {
            if !now.contains_key(key) && !retired.contains(key) {
                self.ended.insert(*lin);
            }
        }
        let mut lineages = BTreeMap::new();
        let mut alice = 0;
        for (key, (lin, r)) in &now {
            if self.ended.contains(lin) {
                return Err(format!("lineage {lin} was ended and came back as {key:?}"));
            }
            if let Some(other) = lineages.insert(*lin, *key) {
                return Err(format!("lineage {lin} forked: {other:?} and {key:?}"));
            }
            let d = decode(&r.payload).map_err(|e| e.to_string())?;
            let writes = d.data.keys().filter(|k| k.starts_with('w')).count() as u64;
            let n = d.data.get("n").and_then(Value::as_u64).unwrap_or(0);
            if n != writes {
                return Err(format!(
                    "{key:?}: counter {n} but {writes} writes: {:?}",
                    d.data
                ));
            }
            for w in self.acked.get(lin).into_iter().flatten() {
                if !d.data.contains_key(w) {
                    return Err(format!(
                        "acknowledged write {w} lost from {key:?}: {:?}",
                        d.data
                    ));
                }
            }
            if let Some(deadline) = d.lifetime.deadline()
                && r.expires_at > deadline
            {
                return Err(format!(
                    "{key:?} expires at {} past its deadline {deadline}",
                    r.expires_at
                ));
            }
            if let Some(user) = &r.user {
                if let Some(index) = self.store.user_index() {
                    let listed = block(index.user_records(user)).map_err(|e| e.to_string())?;
                    if !listed.iter().any(|l| l.key == *key) {
                        return Err(format!("{key:?} of {user} is not in the index"));
                    }
                }
                if user == "alice" {
                    alice += 1;
                }
            }
        }
        if alice > 1 {
            return Err(format!("alice has {alice} sessions, the cap is 1"));
        }
        if login_admitted && self.world.policy == SessionCap::RevokeOldest && alice == 0 {
            return Err("a login left alice with 0 sessions".into());
        }
        self.live = now.into_iter().map(|(k, (lin, _))| (k, lin)).collect();
        Ok(())
    }

    fn live_now(&self) -> Result<BTreeMap<StoreKey, (u64, Record)>, String> {
        self.snapshot()
    }

    /// Applies an actor's handler operation (no store call).
    fn handler(&mut self, a: &mut Actor) {
        let now = self.now();
        let config = self.config.clone();
        let w = format!("w{}", a.index);
        let fresh_lineage = {
            let s = a.lc.state();
            s.is_some_and(|s| s.version.is_none() && s.rotate_from.is_none())
        };
        let write = |lc: &mut Lifecycle, this: &mut Run<'_>| {
            if let Some(s) = lc.state_mut() {
                if fresh_lineage && s.get::<Value>("lin").ok().flatten().is_none() {
                    let lin = this.next_lineage;
                    this.next_lineage += 1;
                    let _ = s.apply(Change::Set("lin".into(), json!(lin)), usize::MAX);
                }
                let inc: crate::state::UpdateFn = Arc::new(|v: Option<&Value>| {
                    Ok(json!(v.and_then(Value::as_u64).unwrap_or(0) + 1))
                });
                let _ = s.apply(Change::Update("n".into(), inc), usize::MAX);
                let _ = s.apply(Change::Set(w.clone(), json!(true)), usize::MAX);
            }
        };
        let mut flush_now = false;
        match a.program.op {
            Op::Read | Op::RevokeAll => {}
            Op::Write => write(&mut a.lc, self),
            Op::Rotate => {
                a.lc.regenerate(config.new_id());
                write(&mut a.lc, self);
            }
            Op::Login | Op::LoginElsewhere => {
                a.lc.regenerate(config.new_id());
                write(&mut a.lc, self);
                flush_now = a.lc.set_user("alice".into(), &config);
            }
            Op::Destroy => a.lc.destroy(&config, now),
            Op::Shorten => {
                if let Some(s) = a.lc.state_mut() {
                    s.lifetime = s
                        .lifetime
                        .with_override(&config, Expiry::At(now + Duration::seconds(40)));
                    s.expiry_changed = true;
                }
                write(&mut a.lc, self);
            }
        }
        if flush_now {
            a.lc.begin_flush();
            a.stage = Stage::FlushLogin;
        } else {
            a.lc.begin_flush();
            a.stage = Stage::Flush;
        }
    }

    /// Runs actor `a` up to and including its next store call. Returns
    /// (keys retired by that call, a login admitted).
    fn step(&mut self, a: &mut Actor) -> (Vec<StoreKey>, bool) {
        loop {
            let now = self.now();
            match a.stage {
                Stage::Done => return (Vec::new(), false),
                Stage::Handler => {
                    self.handler(a);
                    continue;
                }
                Stage::List => {
                    let listed = match self.store.user_index() {
                        Some(i) => block(i.user_records("alice")).unwrap_or_default(),
                        None => Vec::new(),
                    };
                    self.replies.push(format!("listed {}", listed.len()));
                    a.revoking = listed.into_iter().map(|r| r.key).collect();
                    a.revoking.sort();
                    a.calls += 1;
                    a.stage = Stage::Revoke;
                    return (Vec::new(), false);
                }
                Stage::Revoke => {
                    match a.revoking.pop() {
                        Some(key) => {
                            let _ = block(self.store.delete(&key));
                            a.calls += 1;
                        }
                        None => a.stage = Stage::Done,
                    }
                    if a.revoking.is_empty() {
                        a.stage = Stage::Done;
                    }
                    return (Vec::new(), false);
                }
                Stage::Load | Stage::FlushLogin | Stage::Flush => {
                    match a.lc.poll(&self.config, now) {
                        Step::Call(call) => {
                            let retired = match &call {
                                Call::Retire(k, _) => vec![*k],
                                _ => Vec::new(),
                            };
                            let is_admit = matches!(call, Call::Admit(..));
                            let reply = self.perform(call);
                            let admitted = is_admit
                                && matches!(reply, Ok(Reply::Admitted(Admission::Admitted { .. })));
                            a.lc.handle(reply, &self.config, self.now());
                            a.calls += 1;
                            return (retired, admitted);
                        }
                        Step::Done(result) => {
                            let stage = a.stage;
                            a.stage = match stage {
                                Stage::Load => Stage::Handler,
                                Stage::FlushLogin => {
                                    // The handler goes on; the end of the
                                    // request flushes again.
                                    a.lc.begin_flush();
                                    Stage::Flush
                                }
                                _ => {
                                    if result.is_ok() {
                                        self.acknowledge(a);
                                    }
                                    Stage::Done
                                }
                            };
                        }
                    }
                }
            }
        }
    }

    /// A request finished: its writes are acknowledged in its lineage.
    fn acknowledge(&mut self, a: &Actor) {
        let Some(s) = a.lc.state() else { return };
        if s.version.is_none() || s.is_modified() {
            return;
        }
        if let Ok(Some(lin)) = s.get::<u64>("lin")
            && s.get::<bool>(&format!("w{}", a.index)).ok().flatten() == Some(true)
        {
            self.acked
                .entry(lin)
                .or_default()
                .insert(format!("w{}", a.index));
        }
    }
}

/// Runs one schedule of `programs` on `store` with the scheduler's
/// choices from `chooser`; the replies are appended to `replies`.
fn run_one(
    store: Arc<dyn Store>, clock: Arc<ManualClock>, world: World, programs: &[Program],
    chooser: &mut dyn Chooser, replies: &mut Vec<String>,
) -> Result<(), String> {
    let ids = Arc::new(Mutex::new(0u64));
    let config = config(world, ids);
    let mut run = Run {
        store,
        clock: clock.clone(),
        config: config.clone(),
        world,
        keys: BTreeSet::new(),
        ended: BTreeSet::new(),
        acked: BTreeMap::new(),
        live: BTreeMap::new(),
        next_lineage: 1,
        replies,
    };
    // The shared session, stored before the requests start.
    let mut setup = Lifecycle::new(Verdict::Absent, true, false);
    setup.begin_load(&config, run.now());
    let _ = setup.poll(&config, run.now());
    if let Some(s) = setup.state_mut() {
        let _ = s.apply(Change::Set("lin".into(), json!(0)), usize::MAX);
        let _ = s.apply(Change::Set("n".into(), json!(0)), usize::MAX);
        if world.logged_in {
            s.user = Some("alice".into());
            s.user_changed = true;
        }
    }
    setup.begin_flush();
    loop {
        match setup.poll(&config, run.now()) {
            Step::Call(call) => {
                let reply = run.perform(call);
                setup.handle(reply, &config, run.now());
            }
            Step::Done(r) => {
                r.map_err(|e| format!("setup: {e}"))?;
                break;
            }
        }
    }
    let shared = setup.state().map(|s| s.id).ok_or("setup: no session")?;
    run.check(&[], false)?;
    let mut actors: Vec<Actor> = programs
        .iter()
        .enumerate()
        .map(|(index, &program)| {
            let verdict = match program.op {
                Op::LoginElsewhere => Verdict::Absent,
                _ => Verdict::Valid {
                    id: shared,
                    key: KeyMatch::Current,
                },
            };
            let mut lc = Lifecycle::new(verdict, true, false);
            let stage = if program.op == Op::RevokeAll {
                Stage::List
            } else {
                lc.begin_load(&config, clock.now());
                Stage::Load
            };
            Actor {
                program,
                index,
                lc,
                stage,
                calls: 0,
                revoking: Vec::new(),
            }
        })
        .collect();
    for _ in 0..200 {
        let runnable: Vec<usize> = actors
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                a.stage != Stage::Done && a.program.drop_after.is_none_or(|d| a.calls < d)
            })
            .map(|(i, _)| i)
            .collect();
        if runnable.is_empty() {
            return Ok(());
        }
        let pick = runnable[chooser.choose(runnable.len())];
        clock.advance(Duration::seconds(1));
        let (retired, admitted) = run.step(&mut actors[pick]);
        run.check(&retired, admitted)?;
    }
    Err("a schedule did not end in 200 steps".into())
}

/// A simple, obviously correct store: one map under one lock; the user
/// index is a scan. The reference the simulation holds `MemoryStore` to.
pub struct ModelStore {
    map: Mutex<HashMap<StoreKey, (Record, OffsetDateTime)>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ModelStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelStore").finish_non_exhaustive()
    }
}

impl ModelStore {
    /// An empty model store that judges expiry by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            map: Mutex::default(),
            clock,
        }
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&mut HashMap<StoreKey, (Record, OffsetDateTime)>, OffsetDateTime) -> R,
    ) -> R {
        let now = self.clock.now();
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, (r, _)| !r.is_expired(now));
        f(&mut map, now)
    }
}

#[async_trait]
impl Store for ModelStore {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        Ok(self.with(|m, _| m.get(key).map(|(r, _)| r.clone())))
    }
    async fn create(&self, record: &Record) -> Result<Created, StoreError> {
        Ok(self.with(|m, now| {
            if m.contains_key(&record.key) {
                return Created::Collision;
            }
            m.insert(record.key, (record.clone(), now));
            Created::Ok
        }))
    }
    async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError> {
        Ok(self.with(|m, _| match m.get_mut(&record.key) {
            None => Saved::Gone,
            Some((r, _)) if r.version != expected => Saved::Conflict,
            Some((r, _)) => {
                *r = record.clone();
                Saved::Ok
            }
        }))
    }
    async fn touch(
        &self, key: &StoreKey, expected: Version, expires_at: OffsetDateTime,
    ) -> Result<Touched, StoreError> {
        Ok(self.with(|m, _| match m.get_mut(key) {
            None => Touched::Gone,
            Some((r, _)) if r.version != expected => Touched::MovedOn,
            Some((r, _)) => {
                r.expires_at = expires_at;
                Touched::Ok
            }
        }))
    }
    async fn retire(&self, key: &StoreKey, expected: Version) -> Result<Retired, StoreError> {
        Ok(self.with(|m, _| match m.get(key) {
            None => Retired::Gone,
            Some((r, _)) if r.version != expected => Retired::MovedOn,
            Some(_) => {
                m.remove(key);
                Retired::Ok
            }
        }))
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.with(|m, _| m.remove(key));
        Ok(())
    }
    fn admin(&self) -> Option<&dyn StoreAdmin> {
        None
    }
    fn user_index(&self) -> Option<&dyn UserIndex> {
        Some(self)
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

#[async_trait]
impl UserIndex for ModelStore {
    async fn user_records(&self, user: &str) -> Result<Vec<Record>, StoreError> {
        Ok(self.with(|m, _| {
            m.values()
                .filter(|(r, _)| r.user.as_deref() == Some(user))
                .map(|(r, _)| r.clone())
                .collect()
        }))
    }
    async fn admit(&self, login: Login<'_>) -> Result<Admission, StoreError> {
        let Login {
            record,
            expected,
            at: login_at,
            cap,
        } = login;
        Ok(self.with(|m, _| {
            let mut others: Vec<(OffsetDateTime, StoreKey)> = m
                .iter()
                .filter(|(k, (r, _))| **k != record.key && r.user == record.user)
                .map(|(k, (_, at))| (*at, *k))
                .collect();
            if cap.policy == SessionCap::RefuseLogin && others.len() >= cap.max {
                return Admission::Refused { live: others.len() };
            }
            match (expected, m.get(&record.key)) {
                (None, Some(_)) => return Admission::Collision,
                (Some(_), None) => return Admission::Gone,
                (Some(v), Some((r, _))) if r.version != v => return Admission::Conflict,
                _ => {}
            }
            m.insert(record.key, (record.clone(), login_at));
            others.sort();
            let excess = (others.len() + 1).saturating_sub(cap.max);
            for (_, k) in others.iter().take(excess) {
                m.remove(k);
            }
            Admission::Admitted { revoked: excess }
        }))
    }
}

/// Runs one schedule on both stores and compares them.
fn run_both(
    world: World, programs: &[Program], chooser: &mut dyn Chooser, choices: &mut Vec<usize>,
) -> Result<(), Failure> {
    let setup = format!("{world:?} {programs:?}");
    let mut replies = [Vec::new(), Vec::new()];
    let mut recorded = Recorder {
        inner: chooser,
        log: Vec::new(),
    };
    for (i, name) in ["memory", "model"].into_iter().enumerate() {
        let clock = Arc::new(ManualClock::new(t0()));
        let store: Arc<dyn Store> = if i == 0 {
            Arc::new(MemoryStore::with_clock(clock.clone()))
        } else {
            Arc::new(ModelStore::new(clock.clone()))
        };
        let result = if i == 0 {
            run_one(
                store,
                clock,
                world,
                programs,
                &mut recorded,
                &mut replies[0],
            )
        } else {
            let mut again = Replay {
                prefix: recorded.log.clone(),
                taken: Vec::new(),
            };
            run_one(store, clock, world, programs, &mut again, &mut replies[1])
        };
        if let Err(what) = result {
            *choices = recorded.log.clone();
            return Err(Failure {
                what,
                store: name,
                setup,
                choices: recorded.log.clone(),
            });
        }
    }
    *choices = recorded.log.clone();
    if replies[0] != replies[1] {
        return Err(Failure {
            what: format!(
                "MemoryStore and the model answered differently:\n    memory {:?}\n    model  {:?}",
                replies[0], replies[1]
            ),
            store: "memory",
            setup,
            choices: recorded.log,
        });
    }
    Ok(())
}

struct Recorder<'a> {
    inner: &'a mut dyn Chooser,
    log: Vec<usize>,
}

impl Chooser for Recorder<'_> {
    fn choose(&mut self, options: usize) -> usize {
        let c = self.inner.choose(options);
        self.log.push(c);
        c
    }
}

/// What a simulation explored.
#[derive(Debug, Default, Clone, Copy)]
pub struct Report {
    /// Schedules run (each on both stores).
    pub schedules: u64,
    /// Store calls performed, over all schedules and both stores.
    pub steps: u64,
}

fn worlds() -> [World; 4] {
    [
        World {
            policy: SessionCap::RevokeOldest,
            logged_in: false,
        },
        World {
            policy: SessionCap::RevokeOldest,
            logged_in: true,
        },
        World {
            policy: SessionCap::RefuseLogin,
            logged_in: false,
        },
        World {
            policy: SessionCap::RefuseLogin,
            logged_in: true,
        },
    ]
}

/// Every interleaving of every pair of single-operation requests (each
/// also dropped after its 1st, 2nd and 3rd store call), in every world.
pub fn exhaustive_pairs() -> Result<Report, Failure> {
    let mut programs = Vec::new();
    for op in OPS {
        for drop_after in [None, Some(1), Some(2), Some(3)] {
            programs.push(Program { op, drop_after });
        }
    }
    let mut report = Report::default();
    for world in worlds() {
        for (i, a) in programs.iter().enumerate() {
            for b in &programs[i..] {
                let pair = [*a, *b];
                let mut prefix: Vec<usize> = Vec::new();
                loop {
                    let mut replay = Replay {
                        prefix: prefix.clone(),
                        taken: Vec::new(),
                    };
                    let mut choices = Vec::new();
                    run_both(world, &pair, &mut replay, &mut choices)?;
                    report.schedules += 1;
                    report.steps += replay.taken.len() as u64;
                    // The next schedule bumps the last choice with room.
                    let mut taken = replay.taken;
                    let mut next = None;
                    while let Some((c, n)) = taken.pop() {
                        if c + 1 < n {
                            let mut p: Vec<usize> = taken.iter().map(|(c, _)| *c).collect();
                            p.push(c + 1);
                            next = Some(p);
                            break;
                        }
                    }
                    match next {
                        Some(p) => prefix = p,
                        None => break,
                    }
                }
            }
        }
    }
    Ok(report)
}

/// The programs of seed `seed`: 3 requests, any operations, some dropped.
pub fn seeded_programs(seed: u64) -> (World, Vec<Program>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let world = worlds()[rng.random_range(0..4)];
    let programs = (0..3)
        .map(|_| Program {
            op: OPS[rng.random_range(0..OPS.len())],
            drop_after: rng.random_bool(0.25).then(|| rng.random_range(1..=4)),
        })
        .collect();
    (world, programs)
}

/// Runs the schedule of one seed (3 requests, seeded programs and
/// interleaving) on both stores.
pub fn run_seed(seed: u64) -> Result<u64, Failure> {
    let (world, programs) = seeded_programs(seed);
    let mut chooser = Seeded(StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15));
    let mut choices = Vec::new();
    run_both(world, &programs, &mut chooser, &mut choices).map_err(|mut f| {
        f.setup = format!("seed {seed}: {}", f.setup);
        f
    })?;
    Ok(choices.len() as u64)
}

/// Runs seeds `first..first + count`.
pub fn run_seeds(first: u64, count: u64) -> Result<Report, Failure> {
    let mut report = Report::default();
    for seed in first..first + count {
        report.steps += run_seed(seed)?;
        report.schedules += 1;
    }
    Ok(report)
}
